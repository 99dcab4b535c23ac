package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"unicode"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
)

// Importing this package registers the key URI scheme local:// with
// keyprovider/kmsuri.
func init() { kmsuri.Register("local", uriOpener{}) }

type uriOpener struct{}

// ParseURI parses local://PATH.
func (uriOpener) ParseURI(scheme, rest string) (*kmsuri.URI, error) {
	if rest == "" || strings.ContainsAny(rest, "?#") || strings.IndexFunc(rest, unicode.IsControl) >= 0 {
		return nil, errors.New("want local://PATH (local:///absolute/path or local://relative/path)")
	}
	return &kmsuri.URI{Scheme: scheme, Key: rest}, nil
}

// OpenURI opens the keyset file u names with the master key of opts
// (MasterKey, else the environment variable MasterKeyEnv, default
// PII_MASTER_KEY), creating it when opts.CreateLocal is set and the file
// does not exist.
func (uriOpener) OpenURI(_ context.Context, u *kmsuri.URI, opts *kmsuri.Options) (keyprovider.KeyProvider, error) {
	path := u.Key
	master := opts.MasterKey
	if master == nil {
		env := opts.MasterKeyEnv
		if env == "" {
			env = "PII_MASTER_KEY"
		}
		m, err := MasterKeyFromEnv(env)
		if err != nil {
			return nil, err
		}
		defer clear(m)
		master = m
	}
	p, err := Open(path, master)
	if err != nil && opts.CreateLocal && errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
			return Create(path, master)
		}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}
