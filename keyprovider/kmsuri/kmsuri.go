// Package kmsuri opens a key provider from a key URI, for command-line
// tools and configuration files:
//
//	gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K   Google Cloud KMS (keyprovider/gcpkms)
//	vault://HOST[:PORT]/MOUNT/keys/NAME[?derived=true]         Vault Transit over HTTPS (keyprovider/vault)
//	vault+http://127.0.0.1:8200/MOUNT/keys/NAME                plain HTTP, loopback only (keyprovider/vault)
//	aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID                AWS KMS: key or alias ARN, alias/NAME (keyprovider/awskms)
//	local://PATH                                               the embedded local keyset (keyprovider/local)
//
// [Parse] checks a URI without contacting anything (use it to validate
// configuration early). [Open] parses and returns the backend inside a
// [keyprovider.Client] (deadlines, retries, circuit breaker);
// [keyprovider.Client.Backend] reaches the backend itself and
// [keyprovider.Client.Close] releases it.
//
// # Backends register themselves
//
// As database/sql drivers do, each backend package registers its schemes
// from its init function, and this package imports none of them: a
// program links only the SDKs of the backends it imports. Import the ones
// your configuration may name, for their side effect if you use nothing
// else from them:
//
//	import (
//		"github.com/fieldguard/pii/keyprovider/kmsuri"
//		_ "github.com/fieldguard/pii/keyprovider/vault" // vault:// and vault+http://
//	)
//
// A URI whose backend is not imported fails in Parse and Open with an error
// naming the package to import; an unknown scheme's error lists the
// registered ones.
//
// # Configuration
//
// Credentials never appear in a URI (one with user information is
// refused). Backend settings that a URI does not carry go in
// Options.Backend, one value per backend, by type: a *gcpkms.Options
// (ClientOptions: endpoint, credentials; default Application Default
// Credentials), a *vault.Options (Token, Namespace; default VAULT_TOKEN and
// VAULT_NAMESPACE) or an *awskms.Options (Config, Endpoint; default the
// SDK's configuration and credential chain). The URI names the key, and for
// Vault the server, mount and derived flag, so a vault.Options that sets
// Address, Mount, Derived or Client is refused. The local keyset's master
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
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/fieldguard/pii/keyprovider"
)

// Options configures [Open]. Nil means defaults.
type Options struct {
	// Client configures the keyprovider.Client around the backend.
	Client *keyprovider.ClientOptions

	// Backend holds settings for the backends, at most one per backend
	// package, by type: *gcpkms.Options, *vault.Options, *awskms.Options.
	// The backend a URI names uses its own and ignores the others, so one
	// Options can serve every URI a configuration may hold.
	Backend []any

	// MasterKey is the local keyset's master key; when nil it is read
	// from the environment variable MasterKeyEnv (default PII_MASTER_KEY).
	MasterKey    []byte
	MasterKeyEnv string
	// CreateLocal creates the local keyset when the file does not exist.
	CreateLocal bool
}

// URI is a parsed key URI.
type URI struct {
	Scheme  string // "gcp-kms", "vault", "vault+http", "aws-kms", "local", or another registered scheme
	Key     string // CryptoKey name, Transit key name, AWS key reference, or keyset path
	Host    string // vault: HOST[:PORT]
	Mount   string // vault: the Transit mount path
	Derived bool   // vault: ?derived=true
}

// String returns the URI in canonical form; Parse(u.String()) gives u back.
func (u *URI) String() string {
	if u.Host == "" {
		return u.Scheme + "://" + u.Key
	}
	s := u.Scheme + "://" + u.Host + "/" + u.Mount + "/keys/" + u.Key
	if u.Derived {
		s += "?derived=true"
	}
	return s
}

// An Opener parses and opens the key URIs of one scheme. Backend packages
// register theirs with [Register]; applications import the backend and
// never call Register themselves.
type Opener interface {
	// ParseURI checks a URI of the scheme without contacting anything;
	// scheme is lower-case and rest is what follows "://". Its error is
	// one line without a package prefix and never quotes user
	// information, the query, or rest itself: kmsuri adds the prefix and
	// the URI, redacted.
	ParseURI(scheme, rest string) (*URI, error)
	// OpenURI returns the provider a parsed URI names. opts is never
	// nil. Open puts the result inside a keyprovider.Client.
	OpenURI(ctx context.Context, u *URI, opts *Options) (keyprovider.KeyProvider, error)
}

var (
	mu      sync.RWMutex
	openers = map[string]Opener{}
)

// Register makes the key URIs of scheme available to [Parse] and [Open].
// Backend packages call it from their init function. It panics if scheme
// is not a lower-case URI scheme, if o is nil, or if the scheme is already
// registered, as database/sql.Register does.
func Register(scheme string, o Opener) {
	if !validScheme(scheme) {
		panic(fmt.Sprintf("kmsuri: Register: invalid scheme %q", scheme))
	}
	if o == nil {
		panic("kmsuri: Register of a nil Opener for " + scheme)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic("kmsuri: Register called twice for " + scheme)
	}
	openers[scheme] = o
}

func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// schemes returns the registered URI schemes, sorted.
func schemes() []string {
	mu.RLock()
	defer mu.RUnlock()
	s := make([]string, 0, len(openers))
	for k := range openers {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// backends names the package that registers each scheme this module
// provides, for the error a missing import gets.
var backends = map[string]string{
	"gcp-kms":    "github.com/fieldguard/pii/keyprovider/gcpkms",
	"vault":      "github.com/fieldguard/pii/keyprovider/vault",
	"vault+http": "github.com/fieldguard/pii/keyprovider/vault",
	"aws-kms":    "github.com/fieldguard/pii/keyprovider/awskms",
	"local":      "github.com/fieldguard/pii/keyprovider/local",
}

func opener(scheme string) (Opener, error) {
	mu.RLock()
	o := openers[scheme]
	mu.RUnlock()
	if o != nil {
		return o, nil
	}
	if pkg, ok := backends[scheme]; ok {
		return nil, fmt.Errorf("scheme %q is not registered: import _ %q in your program", scheme, pkg)
	}
	return nil, fmt.Errorf("unknown scheme %q (registered: %s)", redact(scheme), registered())
}

func registered() string {
	s := schemes()
	if len(s) == 0 {
		return "none; import a backend package such as github.com/fieldguard/pii/keyprovider/local"
	}
	return strings.Join(s, ", ")
}

// Parse parses a key URI without contacting anything.
func Parse(uri string) (*URI, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("kmsuri: %q is not a key URI (want SCHEME://..., one of %s)", redact(uri), registered())
	}
	scheme = strings.ToLower(scheme)
	o, err := opener(scheme)
	if err != nil {
		return nil, fmt.Errorf("kmsuri: %s: %w", redact(uri), err)
	}
	u, err := o.ParseURI(scheme, rest)
	if err != nil {
		return nil, fmt.Errorf("kmsuri: %s: %w", redact(uri), oneLine(err))
	}
	if u == nil || u.Scheme != scheme {
		return nil, fmt.Errorf("kmsuri: %s: the %s backend parsed it as another scheme", redact(uri), redact(scheme))
	}
	return u, nil
}

// Open returns the key provider a key URI names (see the package
// documentation), wrapped in a keyprovider.Client. Parse errors come
// before any network access.
func Open(ctx context.Context, uri string, opts *Options) (*keyprovider.Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := Parse(uri)
	if err != nil {
		return nil, err
	}
	op, err := opener(u.Scheme)
	if err != nil {
		return nil, fmt.Errorf("kmsuri: %s: %w", redact(uri), err)
	}
	kp, err := op.OpenURI(ctx, u, &o)
	if err != nil {
		return nil, fmt.Errorf("kmsuri: %s: %w", redact(uri), oneLine(err))
	}
	if kp == nil {
		return nil, fmt.Errorf("kmsuri: %s: the %s backend returned no provider", redact(uri), u.Scheme)
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
