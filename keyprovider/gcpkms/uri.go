package gcpkms

import (
	"context"
	"errors"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
)

// Importing this package registers the key URI scheme gcp-kms:// with
// keyprovider/kmsuri.
func init() { kmsuri.Register("gcp-kms", uriOpener{}) }

type uriOpener struct{}

// ParseURI parses gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K.
func (uriOpener) ParseURI(scheme, rest string) (*kmsuri.URI, error) {
	if !validKeyName(rest) {
		return nil, errors.New("want gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K")
	}
	return &kmsuri.URI{Scheme: scheme, Key: rest}, nil
}

// OpenURI opens the CryptoKey u names with the *Options in opts.Backend,
// if any.
func (uriOpener) OpenURI(ctx context.Context, u *kmsuri.URI, opts *kmsuri.Options) (keyprovider.KeyProvider, error) {
	var o *Options
	for _, b := range opts.Backend {
		if g, ok := b.(*Options); ok && g != nil {
			o = g
			break
		}
	}
	p, err := newProvider(ctx, u.Key, o)
	if err != nil {
		return nil, err
	}
	return p, nil
}
