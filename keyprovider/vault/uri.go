package vault

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"unicode"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
)

// Importing this package registers the key URI schemes vault:// (HTTPS)
// and vault+http:// (plain HTTP, loopback only) with keyprovider/kmsuri.
func init() {
	kmsuri.Register("vault", uriOpener{})
	kmsuri.Register("vault+http", uriOpener{})
}

type uriOpener struct{}

// ParseURI parses vault://HOST[:PORT]/MOUNT/keys/NAME[?derived=true].
func (uriOpener) ParseURI(scheme, rest string) (*kmsuri.URI, error) {
	u := &kmsuri.URI{Scheme: scheme}
	pu, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		return nil, errors.New("malformed URI")
	}
	if pu.User != nil {
		return nil, errors.New("credentials in the URI are not accepted; use VAULT_TOKEN")
	}
	if pu.Host == "" || pu.Opaque != "" || pu.Fragment != "" || strings.IndexFunc(pu.Host, unicode.IsControl) >= 0 {
		return nil, errors.New("want vault://HOST[:PORT]/MOUNT/keys/NAME")
	}
	if scheme == "vault+http" && !loopback(pu.Hostname()) {
		return nil, errors.New("vault+http (plain HTTP) is allowed only on a loopback address; use vault:// (HTTPS)")
	}
	path := strings.Trim(pu.Path, "/")
	i := strings.LastIndex(path, "/keys/")
	if i <= 0 {
		return nil, errors.New("want vault://HOST[:PORT]/MOUNT/keys/NAME")
	}
	mount, name := path[:i], path[i+len("/keys/"):]
	if !validMount(mount) || !validName(name) {
		return nil, errors.New("invalid mount or key name (no \"..\", whitespace, or \"/\" in the name)")
	}
	for k, vs := range pu.Query() {
		switch {
		case k == "derived" && len(vs) == 1 && (vs[0] == "true" || vs[0] == "false"):
			u.Derived = vs[0] == "true"
		default:
			return nil, errors.New("unknown or malformed query parameter (only derived=true|false)")
		}
	}
	u.Host, u.Mount, u.Key = pu.Host, mount, name
	return u, nil
}

// OpenURI opens the Transit key u names, with the Token and Namespace of
// the *Options in opts.Backend, if any. The URI names the server, mount
// and derived flag: Options that set Address, Mount, Derived or Client
// are refused rather than silently overridden.
func (uriOpener) OpenURI(ctx context.Context, u *kmsuri.URI, opts *kmsuri.Options) (keyprovider.KeyProvider, error) {
	var o Options
	for _, b := range opts.Backend {
		if vo, ok := b.(*Options); ok && vo != nil {
			o = *vo
			break
		}
	}
	if o.Address != "" || o.Mount != "" || o.Derived || o.Client != nil {
		return nil, errors.New("vault: Options.Address, Mount, Derived and Client cannot be used with a key URI, which names the server, mount and key")
	}
	httpScheme := "https"
	if u.Scheme == "vault+http" {
		httpScheme = "http"
	}
	o.Address = httpScheme + "://" + u.Host
	o.Mount, o.Derived = u.Mount, u.Derived
	p, err := newProvider(ctx, u.Key, &o)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
