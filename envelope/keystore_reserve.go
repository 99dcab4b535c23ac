package envelope

import "context"

// Reserve implements KeyStore: the store's lock makes the check and the
// addition one step.
func (m *memoryStore) Reserve(ctx context.Context, ref KeyRef, n, limit uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[ref]
	if !ok || ref.Kind != KindDEK {
		return 0, ErrNotFound
	}
	if r.Used > limit || n > limit-r.Used {
		return 0, ErrLimit
	}
	r.Used += n
	m.recs[ref] = r
	return r.Used, nil
}
