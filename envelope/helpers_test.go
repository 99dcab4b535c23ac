package envelope_test

import (
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/internal/testkp"
)

func newTestSealerT(t testing.TB) (*envelope.Sealer, *testkp.Provider) {
	kp := testkp.New(nil)
	s, err := envelope.New(kp, &envelope.Options{Store: envelope.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	return s, kp
}

func newKP() *testkp.Provider { return testkp.New(nil) }
