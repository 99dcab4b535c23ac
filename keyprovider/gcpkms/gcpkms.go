package gcpkms

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/fieldguard/pii/keyprovider"
)

// Options configures [New]. Nil means defaults.
type Options struct {
	// Calls configures the keyprovider.Client New returns (deadlines,
	// retries, circuit breaker, telemetry); nil means its defaults.
	// kmsuri.Open uses kmsuri.Options.Client instead.
	Calls *keyprovider.ClientOptions
	// ClientOptions are passed to kms.NewKeyManagementClient: endpoint,
	// credentials, gRPC dial options. Ignored when Client is set.
	ClientOptions []option.ClientOption
	// Client, when set, is used instead of dialling a new one; Close does
	// not close it.
	Client *kms.KeyManagementClient
	// Timeout bounds each Encrypt or Decrypt call (default 10 s); the
	// caller's deadline still applies.
	Timeout time.Duration
}

// provider wraps data keys under one Cloud KMS CryptoKey.
type provider struct {
	key     string
	client  *kms.KeyManagementClient
	owned   bool
	timeout time.Duration
}

var (
	_ keyprovider.KeyProvider = (*provider)(nil)
	_ keyprovider.Rotator     = (*provider)(nil)
	_ keyprovider.Describer   = (*provider)(nil)
)

var keyNameRE = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// validKeyName reports whether name is a CryptoKey resource name,
// projects/P/locations/L/keyRings/R/cryptoKeys/K.
func validKeyName(name string) bool {
	return keyNameRE.MatchString(name) && !strings.ContainsAny(name, " \t\r\n")
}

// New returns the keyprovider.Client around the backend for the CryptoKey
// keyName. It dials Cloud KMS unless opts.Client is set; no request is
// sent. The Client gives every call deadlines, retries with a budget and a
// circuit breaker (the SDK's own retries are off), configured by
// Options.Calls; its Backend is the bare provider, which also implements
// the optional keyprovider interfaces (Rotator, Describer).
func New(ctx context.Context, keyName string, opts *Options) (*keyprovider.Client, error) {
	p, err := newProvider(ctx, keyName, opts)
	if err != nil {
		return nil, err
	}
	var co *keyprovider.ClientOptions
	if opts != nil {
		co = opts.Calls
	}
	return keyprovider.NewClient(p, co), nil
}

// newProvider returns the bare provider for the CryptoKey keyName. It dials Cloud KMS
// unless opts.Client is set; no request is sent.
func newProvider(ctx context.Context, keyName string, opts *Options) (*provider, error) {
	if !validKeyName(keyName) {
		return nil, fmt.Errorf("gcpkms: %q is not a CryptoKey name (projects/P/locations/L/keyRings/R/cryptoKeys/K)", keyName)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	p := &provider{key: keyName, client: o.Client, timeout: o.Timeout}
	if p.client == nil {
		c, err := kms.NewKeyManagementClient(ctx, o.ClientOptions...)
		if err != nil {
			return nil, fmt.Errorf("gcpkms: creating client: %w", err)
		}
		p.client, p.owned = c, true
	}
	return p, nil
}

// Close closes the client New dialled (not one passed in Options.Client).
func (p *provider) Close() error {
	if p.owned {
		return p.client.Close()
	}
	return nil
}

// noRetry switches off the Google client's own retries: the portable
// keyprovider.Client retries, with a budget.
var noRetry = gax.WithRetry(func() gax.Retryer { return nil })

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

// Wrap encrypts dataKey under the key's primary version.
func (p *provider) Wrap(ctx context.Context, dataKey, associatedData []byte) ([]byte, keyprovider.KeyID, error) {
	const op = "wrap"
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := p.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              p.key,
		Plaintext:                         dataKey,
		PlaintextCrc32C:                   wrapperspb.Int64(crc(dataKey)),
		AdditionalAuthenticatedData:       associatedData,
		AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc(associatedData)),
	}, noRetry)
	if err != nil {
		return nil, keyprovider.KeyID{}, classify(ctx, op, err)
	}
	switch {
	case !resp.GetVerifiedPlaintextCrc32C():
		return nil, keyprovider.KeyID{}, integrity(op, "plaintext checksum not verified by the server")
	case !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C():
		return nil, keyprovider.KeyID{}, integrity(op, "associated data checksum not verified by the server")
	case resp.GetCiphertextCrc32C() == nil || resp.GetCiphertextCrc32C().GetValue() != crc(resp.GetCiphertext()):
		return nil, keyprovider.KeyID{}, integrity(op, "ciphertext checksum mismatch")
	case len(resp.GetCiphertext()) == 0:
		return nil, keyprovider.KeyID{}, integrity(op, "empty ciphertext")
	}
	version, ok := p.versionOf(resp.GetName())
	if !ok {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrInvalidArgument,
			fmt.Errorf("gcpkms: response names %q, not a version of %q", resp.GetName(), p.key))
	}
	return resp.GetCiphertext(), keyprovider.KeyID{Key: p.key, Version: version}, nil
}

// versionOf returns the version id of a CryptoKeyVersion name of p's key.
func (p *provider) versionOf(name string) (string, bool) {
	v, ok := strings.CutPrefix(name, p.key+"/cryptoKeyVersions/")
	if !ok || v == "" || strings.Contains(v, "/") {
		return "", false
	}
	return v, true
}

// Unwrap decrypts wrapped, which must have been made by this key (any of
// its enabled versions) with the same associated data.
func (p *provider) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	const op = "unwrap"
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	if len(wrapped) == 0 {
		return nil, keyprovider.Classify(op, keyprovider.ErrAuthentication, errors.New("gcpkms: empty wrapped key"))
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := p.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name:                              p.key,
		Ciphertext:                        wrapped,
		CiphertextCrc32C:                  wrapperspb.Int64(crc(wrapped)),
		AdditionalAuthenticatedData:       associatedData,
		AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc(associatedData)),
	}, noRetry)
	if err != nil {
		return nil, classify(ctx, op, err)
	}
	pt := resp.GetPlaintext()
	if resp.GetPlaintextCrc32C() == nil || resp.GetPlaintextCrc32C().GetValue() != crc(pt) {
		clear(pt)
		return nil, integrity(op, "plaintext checksum mismatch")
	}
	return pt, nil
}

func integrity(op, what string) error {
	return keyprovider.Classify(op, keyprovider.ErrUnavailable, errors.New("gcpkms: response integrity: "+what))
}

// classify maps a gRPC error from Encrypt or Decrypt to a keyprovider class.
func classify(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		// The caller's cancellation or our timeout: keep ctx's error
		// reachable with errors.Is.
		return keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("gcpkms: %w (%w)", cerr, err))
	}
	st, _ := status.FromError(err)
	var class error
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal:
		class = keyprovider.ErrUnavailable
	case codes.PermissionDenied, codes.Unauthenticated:
		class = keyprovider.ErrPermission
	case codes.NotFound:
		class = keyprovider.ErrKeyNotFound
	case codes.FailedPrecondition:
		class = keyprovider.ErrKeyDisabled
		if m := st.Message(); strings.Contains(m, "DESTROY") {
			class = keyprovider.ErrKeyDestroyed
		}
	case codes.InvalidArgument:
		class = keyprovider.ErrInvalidArgument
		if op == "unwrap" {
			class = keyprovider.ErrAuthentication
		}
	case codes.Canceled:
		class = keyprovider.ErrUnavailable
	default:
		class = keyprovider.ErrInvalidArgument
	}
	if st.Code() == codes.DeadlineExceeded {
		// The server gave up first; still a deadline for the caller.
		err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return keyprovider.Classify(op, class, fmt.Errorf("gcpkms: %w", err))
}

// Rotate creates a key version and makes it primary
// (CreateCryptoKeyVersion, then UpdateCryptoKeyPrimaryVersion). Keys
// wrapped under older versions keep unwrapping while those stay enabled.
// The caller needs roles/cloudkms.admin (or cloudkms.cryptoKeyVersions.create
// and cloudkms.cryptoKeys.update) on the key.
func (p *provider) Rotate(ctx context.Context) (keyprovider.KeyID, error) {
	const op = "rotate"
	if err := ctx.Err(); err != nil {
		return keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, err := p.client.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{
		Parent:           p.key,
		CryptoKeyVersion: &kmspb.CryptoKeyVersion{},
	}, noRetry)
	if err != nil {
		return keyprovider.KeyID{}, classify(ctx, op, err)
	}
	id, ok := p.versionOf(v.GetName())
	if !ok {
		return keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrInvalidArgument,
			fmt.Errorf("gcpkms: response names %q, not a version of %q", v.GetName(), p.key))
	}
	if _, err := p.client.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{
		Name:               p.key,
		CryptoKeyVersionId: id,
	}, noRetry); err != nil {
		return keyprovider.KeyID{}, classify(ctx, op, err)
	}
	return keyprovider.KeyID{Key: p.key, Version: id}, nil
}

// Versions lists the key's versions (GetCryptoKey for the primary, then
// ListCryptoKeyVersions). Scheduled-for-destruction versions are reported
// destroyed; pending ones disabled.
func (p *provider) Versions(ctx context.Context) ([]keyprovider.Version, error) {
	const op = "versions"
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	key, err := p.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: p.key}, noRetry)
	if err != nil {
		return nil, classify(ctx, op, err)
	}
	primary := key.GetPrimary().GetName()
	var out []keyprovider.Version
	it := p.client.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: p.key}, noRetry)
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, classify(ctx, op, err)
		}
		id, ok := p.versionOf(v.GetName())
		if !ok {
			return nil, keyprovider.Classify(op, keyprovider.ErrInvalidArgument,
				fmt.Errorf("gcpkms: response names %q, not a version of %q", v.GetName(), p.key))
		}
		ver := keyprovider.Version{
			ID:      keyprovider.KeyID{Key: p.key, Version: id},
			Status:  keyprovider.StatusDisabled,
			Primary: v.GetName() == primary,
		}
		switch v.GetState() {
		case kmspb.CryptoKeyVersion_ENABLED:
			ver.Status = keyprovider.StatusEnabled
		case kmspb.CryptoKeyVersion_DESTROYED, kmspb.CryptoKeyVersion_DESTROY_SCHEDULED:
			ver.Status = keyprovider.StatusDestroyed
		}
		if ct := v.GetCreateTime(); ct != nil {
			ver.Created = ct.AsTime()
		}
		out = append(out, ver)
	}
	return out, nil
}
