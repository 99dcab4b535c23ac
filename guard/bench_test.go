package guard

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fieldguard/pii/keyprovider/local"
)

var bench struct {
	once sync.Once
	g    *Guard
	c    *core
	err  error
}

// benchGuard is one memory Guard shared by both benchmarks and all their
// runs, with its secrets and keys loaded: the same tokenizer key, so phone
// tokens cycle-walk the same number of times on both sides.
func benchGuard(b *testing.B) (*Guard, *core) {
	b.Helper()
	bench.once.Do(func() {
		dir, err := os.MkdirTemp("", "guardbench")
		if err != nil {
			bench.err = err
			return
		}
		defer os.RemoveAll(dir) // the provider keeps its keyset in memory
		master, err := local.GenerateMasterKey()
		if err != nil {
			bench.err = err
			return
		}
		kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
		if err != nil {
			bench.err = err
			return
		}
		if bench.g, bench.err = NewMemory(kp, nil); bench.err != nil {
			return
		}
		ctx := context.Background()
		if bench.c, bench.err = bench.g.core(ctx); bench.err != nil {
			return
		}
		warm := newCust("acme", "c1")
		bench.err = bench.g.Protect(ctx, &warm)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.g, bench.c
}

// BenchmarkProtect protects a clear customer (three sealed fields, one
// with a blind index, four tokens) through the Guard.
func BenchmarkProtect(b *testing.B) {
	g, _ := benchGuard(b)
	ctx := context.Background()
	orig := newCust("acme", "c1")
	b.ReportAllocs()
	for b.Loop() {
		c := orig
		if err := g.Protect(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtectByHand does the same with the parts: Apply, then Seal.
func BenchmarkProtectByHand(b *testing.B) {
	g, c := benchGuard(b)
	ctx := context.Background()
	orig := newCust("acme", "c1")
	b.ReportAllocs()
	for b.Loop() {
		v := orig
		if err := c.tok.Apply(ctx, &v); err != nil {
			b.Fatal(err)
		}
		if err := g.seal.Seal(ctx, &v); err != nil {
			b.Fatal(err)
		}
	}
}
