package envelope_test

import (
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/envelope/keystoretest"
)

func TestMemoryStoreConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore { return envelope.NewMemoryStore() })
}
