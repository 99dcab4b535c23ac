// Package kmsuri opens a key provider from a key URI, for command-line
// tools and configuration files:
//
//	gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K   Google Cloud KMS
//	vault://HOST[:PORT]/MOUNT/keys/NAME[?derived=true]         Vault Transit over HTTPS
//	vault+http://127.0.0.1:8200/MOUNT/keys/NAME                plain HTTP, loopback only
//	aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID                AWS KMS (key or alias ARN, alias/NAME)
//	local://PATH                                               the embedded local keyset
//
// [Parse] checks a URI without contacting anything (use it to validate
// configuration early). [Open] parses and returns the backend inside a
// [keyprovider.Client] (deadlines, retries, circuit breaker);
// [keyprovider.Client.Backend] reaches the backend itself and
// [keyprovider.Client.Close] releases it.
//
// Importing this package links all three cloud SDKs into the program.
// Services that use one backend should import that backend's package
// directly.
//
// # Configuration
//
// Credentials never appear in a URI (one with user information is
// refused): Google Cloud uses Application Default Credentials or
// Options.GCP; Vault uses Options.VaultToken or VAULT_TOKEN; AWS uses
// the SDK's default chain or Options.AWSConfig; the local keyset's master
// key comes from Options.MasterKey or the environment variable
// Options.MasterKeyEnv (default PII_MASTER_KEY), as base64.
//
// # Errors
//
// Errors are one line, start with "kmsuri: " and name the URI with any
// user information and query removed.
package kmsuri

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"google.golang.org/api/option"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/awskms"
	"github.com/fieldguard/pii/keyprovider/gcpkms"
	"github.com/fieldguard/pii/keyprovider/local"
	"github.com/fieldguard/pii/keyprovider/vault"
)

// Options configures [Open]. Nil means defaults.
type Options struct {
	// Client configures the keyprovider.Client around the backend.
	Client *keyprovider.ClientOptions

	// GCP are extra Cloud KMS client options (endpoint, credentials).
	GCP []option.ClientOption

	// VaultToken is the Vault token; default VAULT_TOKEN.
	VaultToken string

	// AWSConfig is the AWS configuration; default the SDK's.
	AWSConfig *aws.Config
	// AWSEndpoint overrides the AWS KMS endpoint.
	AWSEndpoint string

	// MasterKey is the local keyset's master key; when nil it is read
	// from the environment variable MasterKeyEnv (default PII_MASTER_KEY).
	MasterKey    []byte
	MasterKeyEnv string
	// CreateLocal creates the local keyset when the file does not exist.
	CreateLocal bool
}

// Schemes lists the URI schemes Open accepts.
var Schemes = []string{"gcp-kms", "vault", "vault+http", "aws-kms", "local"}

// URI is a parsed key URI.
type URI struct {
	Scheme  string // "gcp-kms", "vault", "vault+http", "aws-kms" or "local"
	Key     string // CryptoKey name, Transit key name, AWS key reference, or keyset path
	Host    string // vault: HOST[:PORT]
	Mount   string // vault: the Transit mount path
	Derived bool   // vault: ?derived=true
}

// String returns the URI in canonical form; Parse(u.String()) gives u back.
func (u *URI) String() string {
	switch u.Scheme {
	case "vault", "vault+http":
		s := u.Scheme + "://" + u.Host + "/" + u.Mount + "/keys/" + u.Key
		if u.Derived {
			s += "?derived=true"
		}
		return s
	}
	return u.Scheme + "://" + u.Key
}

// Parse parses a key URI without contacting anything.
func Parse(uri string) (*URI, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("kmsuri: %q is not a key URI (want one of %s://...)", redact(uri), strings.Join(Schemes, "://, "))
	}
	u := &URI{Scheme: strings.ToLower(scheme)}
	var err error
	switch u.Scheme {
	case "gcp-kms":
		if !gcpkms.ValidKeyName(rest) {
			err = errors.New("want gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K")
		}
		u.Key = rest
	case "vault", "vault+http":
		err = parseVault(u, uri)
	case "aws-kms":
		if !awskms.ValidKeyID(rest) {
			err = errors.New("want aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID (or an alias ARN, alias/NAME, or key id)")
		}
		u.Key = rest
	case "local":
		if rest == "" || strings.ContainsAny(rest, "?#") || strings.IndexFunc(rest, unicode.IsControl) >= 0 {
			err = errors.New("want local://PATH (local:///absolute/path or local://relative/path)")
		}
		u.Key = rest
	default:
		return nil, fmt.Errorf("kmsuri: unknown scheme %q in %q (want one of %s)", redact(scheme), redact(uri), strings.Join(Schemes, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("kmsuri: %s: %w", redact(uri), err)
	}
	return u, nil
}

func parseVault(u *URI, uri string) error {
	pu, err := url.Parse(uri)
	if err != nil {
		return errors.New("malformed URI")
	}
	if pu.User != nil {
		return errors.New("credentials in the URI are not accepted; use VAULT_TOKEN")
	}
	if pu.Host == "" || pu.Opaque != "" || pu.Fragment != "" || strings.IndexFunc(pu.Host, unicode.IsControl) >= 0 {
		return errors.New("want vault://HOST[:PORT]/MOUNT/keys/NAME")
	}
	if u.Scheme == "vault+http" && !loopback(pu.Hostname()) {
		return errors.New("vault+http (plain HTTP) is allowed only on a loopback address; use vault:// (HTTPS)")
	}
	path := strings.Trim(pu.Path, "/")
	i := strings.LastIndex(path, "/keys/")
	if i <= 0 {
		return errors.New("want vault://HOST[:PORT]/MOUNT/keys/NAME")
	}
	mount, name := path[:i], path[i+len("/keys/"):]
	if !vault.ValidMount(mount) || !vault.ValidName(name) {
		return errors.New("invalid mount or key name (no \"..\", whitespace, or \"/\" in the name)")
	}
	for k, vs := range pu.Query() {
		switch {
		case k == "derived" && len(vs) == 1 && (vs[0] == "true" || vs[0] == "false"):
			u.Derived = vs[0] == "true"
		default:
			return fmt.Errorf("unknown or malformed query parameter %q (only derived=true|false)", redact(k))
		}
	}
	u.Host, u.Mount, u.Key = pu.Host, mount, name
	return nil
}

// Open returns the key provider a key URI names (see the package
// documentation), wrapped in a keyprovider.Client. Parse errors come
// before any network access.
func Open(ctx context.Context, uri string, opts *Options) (keyprovider.KeyProvider, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := Parse(uri)
	if err != nil {
		return nil, err
	}
	var kp keyprovider.KeyProvider
	switch u.Scheme {
	case "gcp-kms":
		kp, err = gcpkms.New(ctx, u.Key, &gcpkms.Options{ClientOptions: o.GCP})
	case "vault", "vault+http":
		httpScheme := "https"
		if u.Scheme == "vault+http" {
			httpScheme = "http"
		}
		kp, err = vault.New(ctx, u.Key, &vault.Options{
			Address: httpScheme + "://" + u.Host,
			Token:   o.VaultToken,
			Mount:   u.Mount,
			Derived: u.Derived,
		})
	case "aws-kms":
		kp, err = awskms.New(ctx, u.Key, &awskms.Options{Config: o.AWSConfig, Endpoint: o.AWSEndpoint})
	case "local":
		kp, err = openLocal(u.Key, &o)
	}
	if err != nil {
		return nil, fmt.Errorf("kmsuri: %s: %w", redact(uri), oneLine(err))
	}
	return keyprovider.NewClient(kp, o.Client), nil
}

// redact removes user information and the query from a URI for messages.
func redact(uri string) string {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	if scheme, rest, ok := strings.Cut(uri, "://"); ok {
		host, path, hasPath := strings.Cut(rest, "/")
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = "REDACTED@" + host[at+1:]
		}
		uri = scheme + "://" + host
		if hasPath {
			uri += "/" + path
		}
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, uri)
}

// oneLine keeps an error on one line, errors.Is/As still working.
type lineErr struct{ err error }

func (e lineErr) Error() string { return strings.ReplaceAll(e.err.Error(), "\n", "; ") }
func (e lineErr) Unwrap() error { return e.err }

func oneLine(err error) error {
	if strings.Contains(err.Error(), "\n") {
		return lineErr{err}
	}
	return err
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func openLocal(path string, o *Options) (keyprovider.KeyProvider, error) {
	master := o.MasterKey
	if master == nil {
		env := o.MasterKeyEnv
		if env == "" {
			env = "PII_MASTER_KEY"
		}
		m, err := local.MasterKeyFromEnv(env)
		if err != nil {
			return nil, err
		}
		defer clear(m)
		master = m
	}
	p, err := local.Open(path, master)
	if err != nil && o.CreateLocal && errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
			return local.Create(path, master)
		}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}
