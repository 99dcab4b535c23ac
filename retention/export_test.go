package retention

// The pending shred kinds, for the external tests.
const (
	PendingErasureForTest = pendingErasure
	PendingCloseForTest   = pendingClose
)
