package envelope_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/piitest"
	"github.com/stretchr/testify/require"
)

func sealSubjects(t *testing.T, s *envelope.Sealer, tenant string, from, to int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := from; i < to; i++ {
		b := envelope.Binding{Tenant: tenant, Type: "T", Field: "F", Record: strconv.Itoa(i), Subject: "s" + strconv.Itoa(i)}
		ct, err := s.EncryptString(context.Background(), "v"+strconv.Itoa(i), b)
		require.NoError(t, err)
		out[strconv.Itoa(i)] = ct
	}
	return out
}

func openAll(t *testing.T, s *envelope.Sealer, tenant string, cts map[string]string) {
	t.Helper()
	for rec, ct := range cts {
		b := envelope.Binding{Tenant: tenant, Type: "T", Field: "F", Record: rec, Subject: "s" + rec}
		pt, err := s.DecryptString(context.Background(), ct, b)
		require.NoError(t, err)
		require.Equal(t, "v"+rec, pt)
	}
}

func TestRotateBranchKeyAndRewrapDEKs(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	acme := sealSubjects(t, s, "acme", 0, 230)
	globex := sealSubjects(t, s, "globex", 0, 20)

	v, err := s.RotateBranchKey(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, uint32(2), v)
	for k, ct := range sealSubjects(t, s, "acme", 230, 260) {
		acme[k] = ct
	}

	// A job that "crashes" after two batches, then resumes from its cursor.
	var cursor string
	batches := 0
	crash := errors.New("simulated crash")
	rw, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	p, err := rw.RewrapDEKs(ctx, envelope.RewrapOptions{Tenant: "acme", BatchSize: 50, Progress: func(p envelope.Progress) error {
		cursor = p.Cursor
		batches++
		if batches == 2 {
			return crash
		}
		return nil
	}})
	require.ErrorIs(t, err, crash)
	require.Equal(t, 100, p.Rewrapped)
	p2, err := rw.RewrapDEKs(ctx, envelope.RewrapOptions{Tenant: "acme", BatchSize: 50, Cursor: cursor})
	require.NoError(t, err)
	require.Equal(t, 130, p2.Rewrapped)
	require.Equal(t, 30, p2.Skipped, "DEKs made after the rotation are already under v2")
	require.Empty(t, p2.Cursor)
	require.LessOrEqual(t, p.UnwrapCalls+p2.UnwrapCalls, uint64(2), "one unwrap per branch version")
	require.Zero(t, p.WrapCalls+p2.WrapCalls)

	recs, err := store.List(ctx, envelope.KindDEK, envelope.KeyRef{}, 0)
	require.NoError(t, err)
	for _, r := range recs {
		if r.Tenant == "acme" {
			require.Equal(t, uint32(2), r.Parent)
		} else {
			require.Equal(t, uint32(1), r.Parent)
		}
	}
	// Running again finds nothing to do.
	p3, err := rw.RewrapDEKs(ctx, envelope.RewrapOptions{})
	require.NoError(t, err)
	require.Zero(t, p3.Rewrapped)
	require.Equal(t, 280, p3.Skipped)

	cold, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	openAll(t, cold, "acme", acme)
	openAll(t, cold, "globex", globex)
}

func TestRewrapBranchKeysAfterKMSRotation(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	s, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	acme := sealSubjects(t, s, "acme", 0, 50)
	globex := sealSubjects(t, s, "globex", 0, 50)
	_, err = s.RotateBranchKey(ctx, "acme")
	require.NoError(t, err)
	idx, err := s.BlindIndex(ctx, "acme", (*Customer)(nil), "Email", "a@example.com")
	require.NoError(t, err)

	_, err = kp.Rotate(ctx)
	require.NoError(t, err)
	p, err := s.RewrapBranchKeys(ctx, envelope.RewrapOptions{BatchSize: 1})
	require.NoError(t, err)
	require.Equal(t, 4, p.Rewrapped, "acme v1, v2, globex v1, acme search root")
	require.Equal(t, uint64(4), p.WrapCalls)
	require.Equal(t, uint64(8), p.UnwrapCalls)
	p, err = s.RewrapBranchKeys(ctx, envelope.RewrapOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, p.Rewrapped, "the first record teaches the job the primary")
	require.Equal(t, 3, p.Skipped)

	kp.Disable(0) // the old KEK version is gone
	cold, err := envelope.New(kp, &envelope.Options{Store: store})
	require.NoError(t, err)
	openAll(t, cold, "acme", acme)
	openAll(t, cold, "globex", globex)
	idx2, err := cold.BlindIndex(ctx, "acme", (*Customer)(nil), "Email", "a@example.com")
	require.NoError(t, err)
	require.Equal(t, idx, idx2, "blind indexes survive rotation")
}

func TestRewrapBadCursor(t *testing.T) {
	s, err := envelope.New(newKP(), &envelope.Options{Store: envelope.NewMemoryStore()})
	require.NoError(t, err)
	for _, c := range []string{"!!", "AAAA", "AAAAAQ"} {
		_, err := s.RewrapDEKs(context.Background(), envelope.RewrapOptions{Cursor: c})
		require.Error(t, err, c)
	}
}

func TestBranchKeyPeriod(t *testing.T) {
	ctx := context.Background()
	kp := newKP()
	store := envelope.NewMemoryStore()
	clk := piitest.NewClock(time.Now())
	s, err := envelope.New(kp, &envelope.Options{Clock: clk, Store: store, BranchKeyPeriod: 24 * time.Hour, Cache: envelope.CacheLimits{MaxAge: time.Hour}})
	require.NoError(t, err)
	first := sealSubjects(t, s, "acme", 0, 5)
	clk.Add(25 * time.Hour)
	second := sealSubjects(t, s, "acme", 5, 10)
	br, err := store.Latest(ctx, envelope.KindBranch, "acme", "")
	require.NoError(t, err)
	require.Equal(t, uint32(2), br.ID)
	require.Equal(t, int64(2), kp.Wraps.Load())
	dek, err := store.Get(ctx, envelope.KeyRef{Kind: envelope.KindDEK, Tenant: "acme", Scope: "s:s7", ID: 1})
	require.NoError(t, err)
	require.Equal(t, uint32(2), dek.Parent)
	openAll(t, s, "acme", first)
	openAll(t, s, "acme", second)
}
