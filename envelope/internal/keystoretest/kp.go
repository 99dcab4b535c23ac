package keystoretest

import (
	"github.com/fieldguard/pii/envelope/internal/testkp"
	"github.com/fieldguard/pii/keyprovider"
)

func newKP() keyprovider.KeyProvider { return testkp.New(nil) }
