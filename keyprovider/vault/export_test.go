package vault

// The bare provider, for the tests that check the backend itself (the
// conformance suite, error classes, what reaches the server).
type Provider = provider

// NewBare returns the bare provider.
var NewBare = newProvider
