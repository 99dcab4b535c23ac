package awskms

import (
	"context"
	"errors"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
)

// Importing this package registers the key URI scheme aws-kms:// with
// keyprovider/kmsuri.
func init() { kmsuri.Register("aws-kms", uriOpener{}) }

type uriOpener struct{}

// ParseURI parses aws-kms://KEY, KEY a key or alias ARN, alias/NAME or a
// key id.
func (uriOpener) ParseURI(scheme, rest string) (*kmsuri.URI, error) {
	if !validKeyID(rest) {
		return nil, errors.New("want aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID (or an alias ARN, alias/NAME, or key id)")
	}
	return &kmsuri.URI{Scheme: scheme, Key: rest}, nil
}

// OpenURI opens the KMS key u names with the *Options in opts.Backend, if
// any.
func (uriOpener) OpenURI(ctx context.Context, u *kmsuri.URI, opts *kmsuri.Options) (keyprovider.KeyProvider, error) {
	var o *Options
	for _, b := range opts.Backend {
		if ao, ok := b.(*Options); ok && ao != nil {
			o = ao
			break
		}
	}
	p, err := newProvider(ctx, u.Key, o)
	if err != nil {
		return nil, err
	}
	return p, nil
}
