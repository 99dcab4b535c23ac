// Package kmsuri opens a key provider from a key URI, for command-line
// tools and configuration files:
//
//	gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K   Google Cloud KMS
//	vault://HOST[:PORT]/MOUNT/keys/NAME[?derived=true]         Vault Transit over HTTPS
//	vault+http://127.0.0.1:8200/MOUNT/keys/NAME                plain HTTP, loopback only
//	aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID                AWS KMS (key or alias ARN, alias/NAME)
//	local://PATH                                               the embedded local keyset
//
// [Open] returns the backend inside a [keyprovider.Client] (deadlines,
// retries, circuit breaker); [keyprovider.Client.Backend] reaches the
// backend itself and [keyprovider.Client.Close] releases it.
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

// Open returns the key provider a key URI names (see the package
// documentation), wrapped in a keyprovider.Client.
func Open(ctx context.Context, uri string, opts *Options) (keyprovider.KeyProvider, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("kmsuri: %q is not a key URI (want one of %s://...)", redact(uri), strings.Join(Schemes, "://, "))
	}
	var kp keyprovider.KeyProvider
	var err error
	switch strings.ToLower(scheme) {
	case "gcp-kms":
		kp, err = openGCP(ctx, rest, &o)
	case "vault", "vault+http":
		kp, err = openVault(ctx, strings.ToLower(scheme), uri, &o)
	case "aws-kms":
		kp, err = openAWS(ctx, rest, &o)
	case "local":
		kp, err = openLocal(rest, &o)
	default:
		return nil, fmt.Errorf("kmsuri: unknown scheme %q in %q (want one of %s)", scheme, redact(uri), strings.Join(Schemes, ", "))
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
		host, path, _ := strings.Cut(rest, "/")
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = "REDACTED@" + host[at+1:]
		}
		uri = scheme + "://" + host
		if path != "" || strings.Contains(rest, "/") {
			uri += "/" + path
		}
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
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

func openGCP(ctx context.Context, name string, o *Options) (keyprovider.KeyProvider, error) {
	if !gcpkms.ValidKeyName(name) {
		return nil, errors.New("want gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K")
	}
	return gcpkms.New(ctx, name, &gcpkms.Options{ClientOptions: o.GCP})
}

func openVault(ctx context.Context, scheme, uri string, o *Options) (keyprovider.KeyProvider, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, errors.New("malformed URI")
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URI are not accepted; use VAULT_TOKEN")
	}
	if u.Host == "" {
		return nil, errors.New("want vault://HOST[:PORT]/MOUNT/keys/NAME")
	}
	httpScheme := "https"
	if scheme == "vault+http" {
		if !loopback(u.Hostname()) {
			return nil, errors.New("vault+http (plain HTTP) is allowed only on a loopback address; use vault:// (HTTPS)")
		}
		httpScheme = "http"
	}
	path := strings.Trim(u.Path, "/")
	i := strings.LastIndex(path, "/keys/")
	if i <= 0 {
		return nil, errors.New("want vault://HOST[:PORT]/MOUNT/keys/NAME")
	}
	mount, name := path[:i], path[i+len("/keys/"):]
	if !vault.ValidMount(mount) || !vault.ValidName(name) {
		return nil, errors.New("invalid mount or key name (no \"..\", whitespace, or \"/\" in the name)")
	}
	derived := false
	for k, vs := range u.Query() {
		switch {
		case k == "derived" && len(vs) == 1 && (vs[0] == "true" || vs[0] == "false"):
			derived = vs[0] == "true"
		default:
			return nil, fmt.Errorf("unknown or malformed query parameter %q (only derived=true|false)", k)
		}
	}
	return vault.New(ctx, name, &vault.Options{
		Address: httpScheme + "://" + u.Host,
		Token:   o.VaultToken,
		Mount:   mount,
		Derived: derived,
	})
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func openAWS(ctx context.Context, ref string, o *Options) (keyprovider.KeyProvider, error) {
	if !awskms.ValidKeyID(ref) {
		return nil, errors.New("want aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID (or an alias ARN, alias/NAME, or key id)")
	}
	return awskms.New(ctx, ref, &awskms.Options{Config: o.AWSConfig, Endpoint: o.AWSEndpoint})
}

func openLocal(path string, o *Options) (keyprovider.KeyProvider, error) {
	if path == "" || strings.ContainsAny(path, "?#\x00") {
		return nil, errors.New("want local://PATH (local:///absolute/path or local://relative/path)")
	}
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
