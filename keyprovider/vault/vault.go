package vault

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/vault/api"

	"github.com/fieldguard/pii/keyprovider"
)

// Options configures [New]. Nil means defaults.
type Options struct {
	// Calls configures the keyprovider.Client New returns (deadlines,
	// retries, circuit breaker, telemetry); nil means its defaults.
	// kmsuri.Open uses kmsuri.Options.Client instead.
	Calls *keyprovider.ClientOptions
	// Client, when set, is used as is (Address, Token and Namespace are
	// ignored). Set its MaxRetries to 0: the keyprovider.Client in front
	// retries.
	Client *api.Client
	// Address of the Vault server; default VAULT_ADDR.
	Address string
	// Token; default VAULT_TOKEN.
	Token string
	// Namespace (Vault Enterprise); default VAULT_NAMESPACE.
	Namespace string
	// Mount is the Transit mount path; default "transit".
	Mount string
	// Derived says the key is a derived key: associated data is sent as
	// context. New refuses a key whose derived flag differs.
	Derived bool
	// Timeout bounds each request (default 10 s); the caller's deadline
	// still applies.
	Timeout time.Duration
}

// provider wraps data keys under one Vault Transit key.
type provider struct {
	client  *api.Client
	mount   string
	name    string
	derived bool
	timeout time.Duration
}

var (
	_ keyprovider.KeyProvider = (*provider)(nil)
	_ keyprovider.Rotator     = (*provider)(nil)
	_ keyprovider.Rewrapper   = (*provider)(nil)
	_ keyprovider.Describer   = (*provider)(nil)
)

// aeadTypes are the Transit key types that authenticate associated_data.
var aeadTypes = map[string]bool{"aes128-gcm96": true, "aes256-gcm96": true, "chacha20-poly1305": true}

// validName reports whether name is acceptable as a Transit key name: not
// empty, no "/", no "..", no whitespace or control characters.
func validName(name string) bool {
	return name != "" && len(name) <= 256 && !strings.Contains(name, "/") && !badSegment(name)
}

// validMount reports whether mount is acceptable as a mount path: one or
// more segments separated by "/", none empty, none containing "..",
// whitespace or control characters.
func validMount(mount string) bool {
	if mount == "" || len(mount) > 256 {
		return false
	}
	for _, seg := range strings.Split(mount, "/") {
		if seg == "" || badSegment(seg) {
			return false
		}
	}
	return true
}

func badSegment(s string) bool {
	if strings.Contains(s, "..") || strings.ContainsAny(s, "?#%\\") {
		return true
	}
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
}

// New returns the keyprovider.Client around the backend for the Transit
// key name. It reads the key once to check its type and then probes that
// the server authenticates associated data with it (see the package
// documentation). It fails if the key does not exist, cannot be read, does
// not match Options.Derived, or if a probe value unwraps under other
// associated data. The Client gives every call deadlines, retries with a
// budget and a circuit breaker (the SDK's own retries are off), configured
// by Options.Calls; its Backend is the bare provider, which also
// implements the optional keyprovider interfaces (Rotator, Describer,
// Rewrapper).
func New(ctx context.Context, name string, opts *Options) (*keyprovider.Client, error) {
	p, err := newProvider(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	var co *keyprovider.ClientOptions
	if opts != nil {
		co = opts.Calls
	}
	return keyprovider.NewClient(p, co), nil
}

// newProvider returns the bare provider for the Transit key name. It reads the key once
// to check its type and then probes that the server authenticates
// associated data with it (see the package documentation). It fails if
// the key does not exist, cannot be read, does not match Options.Derived,
// or if a probe value unwraps under other associated data.
func newProvider(ctx context.Context, name string, opts *Options) (*provider, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Mount == "" {
		o.Mount = "transit"
	}
	o.Mount = strings.Trim(o.Mount, "/")
	if !validName(name) {
		return nil, fmt.Errorf("vault: invalid Transit key name %q (no \"/\", \"..\" or whitespace)", name)
	}
	if !validMount(o.Mount) {
		return nil, fmt.Errorf("vault: invalid mount path %q", o.Mount)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	p := &provider{client: o.Client, mount: o.Mount, name: name, derived: o.Derived, timeout: o.Timeout}
	if p.client == nil {
		cfg := api.DefaultConfig()
		if cfg.Error != nil {
			return nil, fmt.Errorf("vault: configuration: %w", cfg.Error)
		}
		if o.Address != "" {
			cfg.Address = o.Address
		}
		cfg.MaxRetries = 0
		c, err := api.NewClient(cfg)
		if err != nil {
			return nil, fmt.Errorf("vault: creating client: %w", err)
		}
		if o.Token != "" {
			c.SetToken(o.Token)
		}
		if o.Namespace != "" {
			c.SetNamespace(o.Namespace)
		}
		if c.Token() == "" {
			return nil, errors.New("vault: no token: set Options.Token or VAULT_TOKEN")
		}
		p.client = c
	}
	info, err := p.readKey(ctx, "new")
	if err != nil {
		return nil, err
	}
	if !aeadTypes[info.Type] {
		return nil, fmt.Errorf("vault: key %s has type %q, which cannot authenticate associated data; use aes256-gcm96", p.path(), info.Type)
	}
	if info.Convergent {
		return nil, fmt.Errorf("vault: key %s uses convergent encryption, which makes wrapping deterministic; use a non-convergent key", p.path())
	}
	if info.Derived != o.Derived {
		return nil, fmt.Errorf("vault: key %s has derived=%t but Options.Derived is %t; refusing, as Vault would silently ignore the associated data", p.path(), info.Derived, o.Derived)
	}
	if err := p.probe(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Probe associated data: fixed, distinct, not secret.
var (
	probeAD      = []byte("pii keyprovider/vault: associated-data probe")
	probeOtherAD = []byte("pii keyprovider/vault: associated-data probe, other")
)

// probe checks that the server authenticates associated data with this
// key: a random probe value wrapped with one associated data must unwrap
// with it, and must fail to unwrap with another (ErrAuthentication). A
// server that ignores associated_data (a proxy that drops it, an imitation
// of Vault) would otherwise leave every wrapped data key unbound from its
// record without any error. Its errors report the operation "new".
func (p *provider) probe(ctx context.Context) error {
	const op = "new"
	value := make([]byte, 32)
	_, _ = rand.Read(value) // never used as a key; crypto/rand.Read does not fail
	w, _, err := p.wrap(ctx, op, value, probeAD)
	if err != nil {
		return err
	}
	got, err := p.unwrap(ctx, op, w, probeAD)
	if err != nil {
		return err
	}
	same := subtle.ConstantTimeCompare(got, value) == 1
	clear(got)
	if !same {
		return fmt.Errorf("vault: key %s: a probe value did not unwrap to itself; refusing the key", p.path())
	}
	got, err = p.unwrap(ctx, op, w, probeOtherAD)
	switch {
	case err == nil:
		clear(got)
		return fmt.Errorf("vault: key %s does not authenticate associated data: a probe value wrapped with one associated data unwrapped with another; refusing, as wrapped data keys would not be bound to their records (is a proxy dropping associated_data, or is this server not Vault?)", p.path())
	case errors.Is(err, keyprovider.ErrAuthentication):
		return nil
	default:
		return err
	}
}

// path is the key's path below /v1/, for messages and KeyIDs.
func (p *provider) path() string { return p.mount + "/keys/" + p.name }

func (p *provider) id(version int) keyprovider.KeyID {
	v := ""
	if version > 0 {
		v = strconv.Itoa(version)
	}
	return keyprovider.KeyID{Key: p.path(), Version: v}
}

type keyInfo struct {
	Type          string         `json:"type"`
	Derived       bool           `json:"derived"`
	Convergent    bool           `json:"convergent_encryption"`
	LatestVersion int            `json:"latest_version"`
	MinDecrypt    int            `json:"min_decryption_version"`
	MinAvailable  int            `json:"min_available_version"`
	Keys          map[string]any `json:"keys"`
}

func (p *provider) readKey(ctx context.Context, op string) (*keyInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s, err := p.client.Logical().ReadWithContext(ctx, p.mount+"/keys/"+p.name)
	if err != nil {
		return nil, classify(ctx, op, false, err)
	}
	if err := warned(op, p.mount+"/keys/"+p.name, s); err != nil {
		return nil, err
	}
	if s == nil || s.Data == nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrKeyNotFound, fmt.Errorf("vault: key %s not found", p.path()))
	}
	b, err := json.Marshal(s.Data)
	if err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("vault: key %s: %w", p.path(), err))
	}
	var info keyInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("vault: key %s: malformed response", p.path()))
	}
	return &info, nil
}

// adFields returns the request fields carrying ad.
func (p *provider) adFields(op string, ad []byte, data map[string]any) error {
	if len(ad) == 0 {
		if p.derived {
			return keyprovider.Classify(op, keyprovider.ErrInvalidArgument, errors.New("vault: a derived key needs non-empty associated data"))
		}
		return nil
	}
	field := "associated_data"
	if p.derived {
		field = "context"
	}
	data[field] = base64.StdEncoding.EncodeToString(ad)
	return nil
}

// write sends one POST and returns the response data. A response with
// warnings is refused (see warned).
func (p *provider) write(ctx context.Context, op, path string, data map[string]any) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s, err := p.client.Logical().WriteWithContext(ctx, p.mount+"/"+path, data)
	if err != nil {
		opens := strings.HasPrefix(path, "decrypt/") || strings.HasPrefix(path, "rewrap/")
		return nil, classify(ctx, op, opens, err)
	}
	if err := warned(op, p.mount+"/"+path, s); err != nil {
		return nil, err
	}
	if s == nil || s.Data == nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("vault: empty response from %s/%s", p.mount, path))
	}
	return s.Data, nil
}

func stringField(op string, data map[string]any, k string) (string, error) {
	v, ok := data[k].(string)
	if !ok || v == "" {
		return "", keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("vault: response lacks %q", k))
	}
	return v, nil
}

// warned refuses a response that carries warnings. Vault warns when it
// accepted a request but not as sent (a parameter it does not know, such
// as associated_data on a Vault that predates it, is ignored with a
// warning), so the result cannot be trusted to be what was asked, and a
// wrapped key may not be bound to its associated data. The error names the
// operation and the endpoint and quotes the warnings with anything that
// could be key material redacted (see redactWarning); it is
// ErrInvalidArgument, so the Client does not retry it.
func warned(op, endpoint string, s *api.Secret) error {
	if s == nil || len(s.Warnings) == 0 {
		return nil
	}
	const shown = 3
	var quoted []string
	for i, w := range s.Warnings {
		if i == shown {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(s.Warnings)-shown))
			break
		}
		quoted = append(quoted, strconv.Quote(redactWarning(w)))
	}
	return keyprovider.Classify(op, keyprovider.ErrInvalidArgument,
		fmt.Errorf("vault: %s answered with %d warning(s); refusing the response: %s", endpoint, len(s.Warnings), strings.Join(quoted, "; ")))
}

// redactWarning keeps the words of a warning and drops what could be key
// material, should a server echo request or response values: every run of
// 16 or more base64, base64url or hex characters that holds a digit, an
// upper-case letter, "+", "/" or "=" becomes [REDACTED] (so parameter
// names such as associated_data stay readable), any other byte outside
// printable ASCII becomes "?", and the result is cut to 200 bytes. Vault's
// own warnings name parameters, not their values.
func redactWarning(w string) string {
	const minRun, maxLen = 16, 200
	var b strings.Builder
	run, keyish := 0, false // the run at the end of b
	flush := func() {
		if run >= minRun && keyish {
			s := b.String()
			b.Reset()
			b.WriteString(s[:len(s)-run])
			b.WriteString("[REDACTED]")
		}
		run, keyish = 0, false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= 'a' && c <= 'z', c == '-', c == '_':
			b.WriteByte(c)
			run++
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			b.WriteByte(c)
			run, keyish = run+1, true
		default:
			flush()
			if c < 0x20 || c > 0x7e {
				c = '?'
			}
			b.WriteByte(c)
		}
	}
	flush()
	out := b.String()
	if len(out) > maxLen {
		out = out[:maxLen] + "..."
	}
	return out
}

// Wrap encrypts dataKey with the key's latest version.
func (p *provider) Wrap(ctx context.Context, dataKey, associatedData []byte) ([]byte, keyprovider.KeyID, error) {
	return p.wrap(ctx, "wrap", dataKey, associatedData)
}

func (p *provider) wrap(ctx context.Context, op string, dataKey, associatedData []byte) ([]byte, keyprovider.KeyID, error) {
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	data := map[string]any{"plaintext": base64.StdEncoding.EncodeToString(dataKey)}
	if err := p.adFields(op, associatedData, data); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	resp, err := p.write(ctx, op, "encrypt/"+p.name, data)
	if err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	ct, err := stringField(op, resp, "ciphertext")
	if err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	version, _, err := parseCiphertext(ct)
	if err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, errors.New("vault: malformed ciphertext in response"))
	}
	return []byte(ct), p.id(version), nil
}

// Unwrap decrypts wrapped, a vault:vN: ciphertext made by this key.
func (p *provider) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	return p.unwrap(ctx, "unwrap", wrapped, associatedData)
}

func (p *provider) unwrap(ctx context.Context, op string, wrapped, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	if _, _, err := parseCiphertext(string(wrapped)); err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrAuthentication, err)
	}
	data := map[string]any{"ciphertext": string(wrapped)}
	if err := p.adFields(op, associatedData, data); err != nil {
		return nil, err
	}
	resp, err := p.write(ctx, op, "decrypt/"+p.name, data)
	if err != nil {
		return nil, err
	}
	b64, ok := resp["plaintext"].(string)
	if !ok {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, errors.New("vault: response lacks \"plaintext\""))
	}
	pt, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(pt) == 0 {
		clear(pt)
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, errors.New("vault: malformed plaintext in response"))
	}
	return pt, nil
}

// Rewrap re-encrypts wrapped under the key's latest version, server-side
// where Vault can do so correctly (see the package documentation).
func (p *provider) Rewrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, keyprovider.KeyID, error) {
	const op = "rewrap"
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	if _, _, err := parseCiphertext(string(wrapped)); err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrAuthentication, err)
	}
	if !p.derived && len(associatedData) > 0 {
		// Vault's rewrap ignores associated_data: decrypt and encrypt here.
		dk, err := p.unwrap(ctx, op, wrapped, associatedData)
		if err != nil {
			return nil, keyprovider.KeyID{}, err
		}
		defer clear(dk)
		return p.wrap(ctx, op, dk, associatedData)
	}
	data := map[string]any{"ciphertext": string(wrapped)}
	if err := p.adFields(op, associatedData, data); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	resp, err := p.write(ctx, op, "rewrap/"+p.name, data)
	if err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	ct, err := stringField(op, resp, "ciphertext")
	if err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	version, _, err := parseCiphertext(ct)
	if err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, errors.New("vault: malformed ciphertext in response"))
	}
	return []byte(ct), p.id(version), nil
}

// Rotate adds a key version and makes it the one Wrap uses.
func (p *provider) Rotate(ctx context.Context) (keyprovider.KeyID, error) {
	const op = "rotate"
	if err := ctx.Err(); err != nil {
		return keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s, err := p.client.Logical().WriteWithContext(rctx, p.mount+"/keys/"+p.name+"/rotate", nil)
	if err != nil {
		return keyprovider.KeyID{}, classify(rctx, op, false, err)
	}
	if err := warned(op, p.mount+"/keys/"+p.name+"/rotate", s); err != nil {
		// The rotation may have happened; Versions tells.
		return keyprovider.KeyID{}, err
	}
	info, err := p.readKey(ctx, op)
	if err != nil {
		return keyprovider.KeyID{}, err
	}
	return p.id(info.LatestVersion), nil
}

// Versions lists the key's versions still held by Vault.
func (p *provider) Versions(ctx context.Context) ([]keyprovider.Version, error) {
	const op = "versions"
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	info, err := p.readKey(ctx, op)
	if err != nil {
		return nil, err
	}
	// Vault lists only versions at or above min_decryption_version; the
	// ones below it are archived (disabled, restorable by lowering the
	// minimum), and the ones below min_available_version are trimmed.
	var out []keyprovider.Version
	for n := 1; n <= info.LatestVersion; n++ {
		ver := keyprovider.Version{ID: p.id(n), Status: keyprovider.StatusEnabled, Primary: n == info.LatestVersion}
		switch {
		case n < info.MinAvailable:
			ver.Status = keyprovider.StatusDestroyed
		case n < info.MinDecrypt:
			ver.Status = keyprovider.StatusDisabled
		}
		if ts, ok := info.Keys[strconv.Itoa(n)].(float64); ok && ts > 0 {
			ver.Created = time.Unix(int64(ts), 0).UTC()
		}
		out = append(out, ver)
	}
	return out, nil
}

// parseCiphertext parses a Transit ciphertext, vault:vN:BASE64, strictly:
// N is a decimal version ≥ 1 without leading zeros, and BASE64 is
// non-empty canonical standard base64. It returns N and the decoded bytes.
func parseCiphertext(s string) (version int, raw []byte, err error) {
	errMalformed := errors.New("vault: malformed wrapped key (want vault:vN:base64)")
	if len(s) > 1<<20 {
		return 0, nil, errMalformed
	}
	rest, ok := strings.CutPrefix(s, "vault:v")
	if !ok {
		return 0, nil, errMalformed
	}
	num, body, ok := strings.Cut(rest, ":")
	if !ok || num == "" || len(num) > 9 || num[0] == '0' || body == "" {
		return 0, nil, errMalformed
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, nil, errMalformed
		}
	}
	version, _ = strconv.Atoi(num)
	raw, err = base64.StdEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) == 0 || base64.StdEncoding.EncodeToString(raw) != body {
		return 0, nil, errMalformed
	}
	return version, raw, nil
}

// classify maps a vault/api error to a keyprovider class. opens says the
// request opened a ciphertext (decrypt, rewrap), where a 400 means the
// ciphertext or its associated data did not authenticate.
func classify(ctx context.Context, op string, opens bool, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("vault: %w (%w)", cerr, err))
	}
	class := keyprovider.ErrUnavailable // transport failures
	var re *api.ResponseError
	if errors.As(err, &re) {
		msg := strings.ToLower(strings.Join(re.Errors, "; "))
		switch code := re.StatusCode; {
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			class = keyprovider.ErrPermission
		case code == http.StatusNotFound:
			class = keyprovider.ErrKeyNotFound
		case code == http.StatusBadRequest:
			switch {
			case strings.Contains(msg, "disallowed by policy"):
				class = keyprovider.ErrKeyDisabled
			case strings.Contains(msg, "not found"):
				class = keyprovider.ErrKeyNotFound
			case opens:
				class = keyprovider.ErrAuthentication
			default:
				class = keyprovider.ErrInvalidArgument
			}
		case code == http.StatusPreconditionFailed || code == http.StatusTooManyRequests || code >= 500:
			class = keyprovider.ErrUnavailable
		default:
			class = keyprovider.ErrInvalidArgument
		}
	}
	return keyprovider.Classify(op, class, fmt.Errorf("vault: %w", err))
}
