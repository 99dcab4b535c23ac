package awskms

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fieldguard/pii/keyprovider"
)

// ContextKey is the encryption-context key that carries the digest of the
// associated data.
const ContextKey = "pii-ad-sha256"

// Options configures [New]. Nil means defaults.
type Options struct {
	// Calls configures the keyprovider.Client New returns (deadlines,
	// retries, circuit breaker, telemetry); nil means its defaults.
	// kmsuri.Open uses kmsuri.Options.Client instead.
	Calls *keyprovider.ClientOptions
	// Client, when set, is used as is (Config, Region and Endpoint are
	// ignored).
	Client *kms.Client
	// Config is the AWS configuration; when nil, config.LoadDefaultConfig
	// is used.
	Config *aws.Config
	// Region overrides the configured region. When neither is set, the
	// region of a key ARN is used.
	Region string
	// Endpoint overrides the service endpoint (BaseEndpoint), for VPC
	// endpoints, FIPS endpoints or tests.
	Endpoint string
	// Timeout bounds each Encrypt or Decrypt call (default 10 s); the
	// caller's deadline still applies.
	Timeout time.Duration
}

// provider wraps data keys under one AWS KMS key.
type provider struct {
	keyID   string
	client  *kms.Client
	timeout time.Duration
}

var _ keyprovider.KeyProvider = (*provider)(nil)

// validKeyID reports whether id looks like a KMS key reference: a key ARN,
// alias ARN, alias name (alias/…) or key id, with no whitespace.
func validKeyID(id string) bool {
	if id == "" || len(id) > 2048 || strings.ContainsAny(id, " \t\r\n") {
		return false
	}
	if strings.HasPrefix(id, "arn:") {
		parts := strings.SplitN(id, ":", 6)
		return len(parts) == 6 && parts[2] == "kms" && parts[3] != "" &&
			(strings.HasPrefix(parts[5], "key/") && len(parts[5]) > 4 ||
				strings.HasPrefix(parts[5], "alias/") && len(parts[5]) > 6)
	}
	if strings.HasPrefix(id, "alias/") {
		return len(id) > len("alias/")
	}
	return !strings.Contains(id, "/") && !strings.Contains(id, ":")
}

// New returns the keyprovider.Client around the backend for the KMS key
// keyID. No request is sent. The Client gives every call deadlines,
// retries with a budget and a circuit breaker (the SDK's own retries are
// off), configured by Options.Calls; its Backend is the bare provider.
func New(ctx context.Context, keyID string, opts *Options) (*keyprovider.Client, error) {
	p, err := newProvider(ctx, keyID, opts)
	if err != nil {
		return nil, err
	}
	var co *keyprovider.ClientOptions
	if opts != nil {
		co = opts.Calls
	}
	return keyprovider.NewClient(p, co), nil
}

// newProvider returns the bare provider for the KMS key keyID. No request is sent.
func newProvider(ctx context.Context, keyID string, opts *Options) (*provider, error) {
	if !validKeyID(keyID) {
		return nil, fmt.Errorf("awskms: %q is not a KMS key ARN, alias or key id", keyID)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	p := &provider{keyID: keyID, client: o.Client, timeout: o.Timeout}
	if p.client != nil {
		return p, nil
	}
	var cfg aws.Config
	if o.Config != nil {
		cfg = o.Config.Copy()
	} else {
		c, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("awskms: loading AWS configuration: %w", err)
		}
		cfg = c
	}
	if o.Region != "" {
		cfg.Region = o.Region
	}
	if cfg.Region == "" {
		if r := arnRegion(keyID); r != "" {
			cfg.Region = r
		} else {
			return nil, errors.New("awskms: no region: set Options.Region, AWS_REGION, or use a key ARN")
		}
	}
	p.client = kms.NewFromConfig(cfg, func(ko *kms.Options) {
		if o.Endpoint != "" {
			ko.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return p, nil
}

func arnRegion(id string) string {
	if parts := strings.SplitN(id, ":", 6); len(parts) == 6 && parts[0] == "arn" {
		return parts[3]
	}
	return ""
}

// noRetry switches off the SDK's own retries: the portable
// keyprovider.Client retries, with a budget.
func noRetry(o *kms.Options) { o.Retryer = aws.NopRetryer{} }

// encryptionContext returns the context carrying ad, nil for empty ad.
func encryptionContext(ad []byte) map[string]string {
	if len(ad) == 0 {
		return nil
	}
	sum := sha256.Sum256(ad)
	return map[string]string{ContextKey: base64.StdEncoding.EncodeToString(sum[:])}
}

// checkKey reports whether the key ARN in a response is the configured key.
func (p *provider) checkKey(got string) bool {
	if got == "" {
		return false
	}
	switch {
	case strings.HasPrefix(p.keyID, "arn:") && strings.Contains(p.keyID, ":key/"):
		return got == p.keyID
	case strings.HasPrefix(p.keyID, "arn:"), strings.HasPrefix(p.keyID, "alias/"):
		// An alias resolves server-side; only the form can be checked.
		return strings.HasPrefix(got, "arn:") && strings.Contains(got, ":key/")
	default:
		return strings.HasSuffix(got, ":key/"+p.keyID)
	}
}

// Wrap encrypts dataKey under the key.
func (p *provider) Wrap(ctx context.Context, dataKey, associatedData []byte) ([]byte, keyprovider.KeyID, error) {
	const op = "wrap"
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	out, err := p.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:               aws.String(p.keyID),
		Plaintext:           dataKey,
		EncryptionContext:   encryptionContext(associatedData),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, noRetry)
	if err != nil {
		return nil, keyprovider.KeyID{}, classify(ctx, op, err)
	}
	got := aws.ToString(out.KeyId)
	if !p.checkKey(got) {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrInvalidArgument,
			fmt.Errorf("awskms: response names key %q, not %q", got, p.keyID))
	}
	if len(out.CiphertextBlob) == 0 {
		return nil, keyprovider.KeyID{}, keyprovider.Classify(op, keyprovider.ErrUnavailable, errors.New("awskms: empty ciphertext in response"))
	}
	return out.CiphertextBlob, keyprovider.KeyID{Key: got}, nil
}

// Unwrap decrypts wrapped with the configured key (KeyId pinned).
func (p *provider) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	const op = "unwrap"
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, err)
	}
	if len(wrapped) == 0 {
		return nil, keyprovider.Classify(op, keyprovider.ErrAuthentication, errors.New("awskms: empty wrapped key"))
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	out, err := p.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:               aws.String(p.keyID),
		CiphertextBlob:      wrapped,
		EncryptionContext:   encryptionContext(associatedData),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, noRetry)
	if err != nil {
		return nil, classify(ctx, op, err)
	}
	if got := aws.ToString(out.KeyId); !p.checkKey(got) {
		clear(out.Plaintext)
		return nil, keyprovider.Classify(op, keyprovider.ErrInvalidArgument,
			fmt.Errorf("awskms: response names key %q, not %q", got, p.keyID))
	}
	if len(out.Plaintext) == 0 {
		return nil, keyprovider.Classify(op, keyprovider.ErrUnavailable, errors.New("awskms: empty plaintext in response"))
	}
	return out.Plaintext, nil
}

// classify maps an SDK error to a keyprovider class.
func classify(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("awskms: %w (%w)", cerr, err))
	}
	class := keyprovider.ErrInvalidArgument
	var api smithy.APIError
	var resp *awshttp.ResponseError
	var send *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &send):
		// No response at all: connection refused or reset, DNS.
		class = keyprovider.ErrUnavailable
	case errors.As(err, &api):
		switch code := api.ErrorCode(); code {
		case "InvalidCiphertextException", "IncorrectKeyException":
			class = keyprovider.ErrAuthentication
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken",
			"InvalidClientTokenId", "SignatureDoesNotMatch", "NotAuthorized":
			class = keyprovider.ErrPermission
		case "NotFoundException":
			class = keyprovider.ErrKeyNotFound
		case "DisabledException":
			class = keyprovider.ErrKeyDisabled
		case "KMSInvalidStateException":
			class = keyprovider.ErrKeyDisabled
			if strings.Contains(strings.ToLower(api.ErrorMessage()), "pending deletion") {
				class = keyprovider.ErrKeyDestroyed
			}
		case "ThrottlingException", "LimitExceededException", "KeyUnavailableException",
			"DependencyTimeoutException", "KMSInternalException", "ServiceUnavailableException",
			"InternalFailure", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException":
			class = keyprovider.ErrUnavailable
		default:
			if errors.As(err, &resp) && (resp.HTTPStatusCode() >= 500 || resp.HTTPStatusCode() == http.StatusTooManyRequests) {
				class = keyprovider.ErrUnavailable
			}
		}
	case errors.As(err, &resp):
		if resp.HTTPStatusCode() >= 500 || resp.HTTPStatusCode() == http.StatusTooManyRequests {
			class = keyprovider.ErrUnavailable
		}
	case errors.Is(err, context.DeadlineExceeded):
		class = keyprovider.ErrUnavailable
	}
	return keyprovider.Classify(op, class, fmt.Errorf("awskms: %w", err))
}
