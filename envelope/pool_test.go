package envelope

import (
	"bytes"
	"context"
	"testing"

	"github.com/fieldguard/pii/envelope/internal/testkp"
)

// TestPooledBuffersHoldNoPlaintext: after every byte-level call, struct
// call and failure, the buffers back in the pool hold no plaintext (the
// pool is shared by every Sealer of the process).
func TestPooledBuffersHoldNoPlaintext(t *testing.T) {
	ctx := context.Background()
	s, err := New(testkp.New(nil), &Options{Store: NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "PLAINTEXT-7f3a9c-PLAINTEXT-7f3a9c"
	b := Binding{Tenant: "acme", Type: "T", Field: "F", Record: "r", Subject: "alice"}
	drain := func(what string) {
		t.Helper()
		for range 64 {
			bp := bufPool.Get().(*[]byte)
			if bytes.Contains((*bp)[:cap(*bp)], []byte(secret)) {
				t.Fatalf("%s: a pooled buffer holds the plaintext", what)
			}
		}
	}
	ct, err := s.EncryptString(ctx, secret, b)
	if err != nil {
		t.Fatal(err)
	}
	drain("EncryptString")
	bin, err := s.EncryptBytes(ctx, []byte(secret), b)
	if err != nil {
		t.Fatal(err)
	}
	drain("EncryptBytes")
	if pt, err := s.DecryptString(ctx, ct, b); err != nil || pt != secret {
		t.Fatal(pt, err)
	}
	drain("DecryptString")
	if pt, err := s.DecryptBytes(ctx, bin, b); err != nil || string(pt) != secret {
		t.Fatal(string(pt), err)
	}
	drain("DecryptBytes")
	other := b
	other.Record = "other"
	if _, err := s.DecryptString(ctx, ct, other); err == nil {
		t.Fatal("opened under another record")
	}
	drain("a failed DecryptString")
	det, err := s.EncryptDeterministic(ctx, secret, b)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := s.DecryptString(ctx, det, b); err != nil || pt != secret {
		t.Fatal(pt, err)
	}
	drain("deterministic")
	type R struct {
		ID  string `pii:"subject"`
		A   string `pii:"name,encrypt"`
		B   []byte `pii:"email,encrypt"`
		Det string `pii:"national_id,encrypt=det,index"`
	}
	r := &R{ID: "alice", A: secret, B: []byte(secret), Det: secret}
	for range 2 { // the second Seal opens the values to find them sealed
		if err := s.Seal(ctx, r); err != nil {
			t.Fatal(err)
		}
		drain("Seal")
	}
	if err := s.Open(ctx, r); err != nil || r.A != secret || r.Det != secret {
		t.Fatal(r, err)
	}
	drain("Open")
}
