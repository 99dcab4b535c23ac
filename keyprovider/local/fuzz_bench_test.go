package local

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/fieldguard/pii/internal/kmsclass"
	"github.com/fieldguard/pii/keyprovider"
)

// fuzzFixture is one keyset with a known wrapped key, shared by the fuzz
// seeds and targets.
type fuzzFixture struct {
	p       *Provider
	master  []byte
	file    []byte
	key     []byte
	ad      []byte
	wrapped []byte
}

func newFuzzFixture(t testing.TB, dir string) *fuzzFixture {
	path := filepath.Join(dir, "keyset.json")
	master := testMaster(t)
	p, err := Create(path, master)
	require.NoError(t, err)
	_, err = p.Rotate(context.Background())
	require.NoError(t, err)
	key := bytes.Repeat([]byte{0x42}, 32)
	ad := []byte("Customer.Email")
	wrapped, _, err := p.Wrap(context.Background(), key, ad)
	require.NoError(t, err)
	file, err := os.ReadFile(path)
	require.NoError(t, err)
	return &fuzzFixture{p: p, master: master, file: file, key: key, ad: ad, wrapped: wrapped}
}

func unwrapSeeds(fx *fuzzFixture) [][]byte {
	return [][]byte{
		fx.wrapped,
		fx.wrapped[:prefixSize],
		fx.wrapped[:len(fx.wrapped)-1],
		append(bytes.Clone(fx.wrapped), 0),
		{},
		{tinkPrefixByte, 0, 0, 0, 1},
	}
}

func openSeeds(fx *fuzzFixture) [][]byte {
	return [][]byte{
		fx.file,
		fx.file[:len(fx.file)/2],
		[]byte(`{"header":{"format":"fieldguard.pii/local-keyset/v1","name":"x","generation":1,"versions":[]},"keyset":{}}`),
		[]byte(`{}`),
	}
}

func TestFuzzSeedsNotEmpty(t *testing.T) {
	fx := newFuzzFixture(t, t.TempDir())
	require.NotEmpty(t, unwrapSeeds(fx))
	require.NotEmpty(t, openSeeds(fx))
	// The first seeds are the valid inputs the targets mutate.
	got, err := fx.p.Unwrap(t.Context(), unwrapSeeds(fx)[0], fx.ad)
	require.NoError(t, err)
	require.Equal(t, fx.key, got)
	_, _, err = decode(openSeeds(fx)[0], fx.p.master)
	require.NoError(t, err)
}

// FuzzUnwrap: any input either unwraps to the one key that was wrapped, or
// fails with a classified error; never a panic.
func FuzzUnwrap(f *testing.F) {
	fx := newFuzzFixture(f, f.TempDir())
	seeds := unwrapSeeds(fx)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, wrapped []byte) {
		got, err := fx.p.Unwrap(context.Background(), wrapped, fx.ad)
		if err != nil {
			if c := kmsclass.Name(err); c == "other" || c == "canceled" {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if !bytes.Equal(got, fx.key) {
			t.Fatalf("unwrapped %d bytes that were never wrapped", len(got))
		}
	})
}

// FuzzOpen: any keyset file either loads as a consistent keyset or fails
// with an error; never a panic.
func FuzzOpen(f *testing.F) {
	fx := newFuzzFixture(f, f.TempDir())
	seeds := openSeeds(fx)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hdr, h, err := decode(data, fx.p.master)
		if err != nil {
			return
		}
		st, err := newState(hdr, h)
		if err != nil {
			return
		}
		if st.status[st.primary] != keyprovider.StatusEnabled {
			t.Fatal("loaded a keyset whose primary is not enabled")
		}
	})
}

// Benchmarks: Wrap+Unwrap of a 32-byte data key with 32 bytes of associated
// data through the Provider, against raw crypto/cipher AES-256-GCM and a
// Tink AEAD primitive used directly. Compare with
//
//	go test -run '^$' -bench 'BenchmarkWrapUnwrap' -benchtime=200ms -count=3 ./keyprovider/local/ | benchratio BenchmarkWrapUnwrap/local BenchmarkWrapUnwrap/stdlib-gcm
func BenchmarkWrapUnwrap(b *testing.B) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ad := bytes.Repeat([]byte{'a'}, 32)
	ctx := context.Background()

	b.Run("stdlib-gcm", func(b *testing.B) {
		kek := make([]byte, 32)
		_, _ = rand.Read(kek)
		block, _ := aes.NewCipher(kek)
		gcm, _ := cipher.NewGCM(block)
		b.ReportAllocs()
		for b.Loop() {
			out := make([]byte, 12, 12+len(key)+16)
			_, _ = rand.Read(out)
			ct := gcm.Seal(out, out, key, ad)
			if _, err := gcm.Open(nil, ct[:12], ct[12:], ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tink-aead", func(b *testing.B) {
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		require.NoError(b, err)
		a, err := aead.New(h)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			ct, err := a.Encrypt(key, ad)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := a.Decrypt(ct, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("local", func(b *testing.B) {
		p, err := Create(filepath.Join(b.TempDir(), "keyset.json"), testMaster(b))
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			w, _, err := p.Wrap(ctx, key, ad)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Unwrap(ctx, w, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}
