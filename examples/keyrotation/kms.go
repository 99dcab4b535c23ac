package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/gcpkms"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
	"github.com/fieldguard/pii/keyprovider/local"

	// Every backend a --kms URI may name registers its schemes with kmsuri
	// when imported (gcpkms and local, above, register gcp-kms:// and
	// local://).
	_ "github.com/fieldguard/pii/keyprovider/awskms"
	_ "github.com/fieldguard/pii/keyprovider/vault"
)

// counter wraps a KeyProvider and counts the calls that reach it, which is
// what a cloud KMS bills and rate-limits.
type counter struct {
	kp             keyprovider.KeyProvider
	wraps, unwraps atomic.Int64
	admins         atomic.Int64 // key-management calls
}

var _ keyprovider.KeyProvider = (*counter)(nil)

func (c *counter) Wrap(ctx context.Context, dataKey, ad []byte) ([]byte, keyprovider.KeyID, error) {
	c.wraps.Add(1)
	return c.kp.Wrap(ctx, dataKey, ad)
}

func (c *counter) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	c.unwraps.Add(1)
	return c.kp.Unwrap(ctx, wrapped, ad)
}

// calls is the number of KMS calls made so far.
func (c *counter) calls() int64 {
	return c.wraps.Load() + c.unwraps.Load() + c.admins.Load()
}

// versionManager is the key-version life cycle the rotation drives:
// keyprovider/local implements it, and so do the KMS backends that can hold
// a version enabled without making it primary.
type versionManager interface {
	AddVersion(ctx context.Context) (keyprovider.KeyID, error)
	Promote(ctx context.Context, version string) error
	Disable(ctx context.Context, version string) error
	Destroy(ctx context.Context, version string) error
	Versions(ctx context.Context) ([]keyprovider.Version, error)
}

// kms is the key provider the example rotates, with its call counter.
//
// A local keyset has the whole version life cycle (mgr). A cloud KMS opened
// with --kms goes through kmsuri's keyprovider.Client; it may rotate
// (create a version and make it primary in one step: Cloud KMS, Vault
// Transit) and list versions, and its versions are disabled and destroyed
// with the provider's own tools.
type kms struct {
	*counter
	mgr         versionManager      // nil unless a local keyset
	client      *keyprovider.Client // from kmsuri; nil for the default keyset
	canRotate   bool                // client's backend is a keyprovider.Rotator
	canDescribe bool                // client's backend is a keyprovider.Describer
	display     string              // what the provider is, without secrets

	// The local keyset, when the example runs on one (the default).
	local      *local.Provider
	keysetPath string
	masterPath string
	master     []byte // the development master key, cleared by close
	created    bool   // the keyset was created by this run

	// readerArgs tell the second-reader child process how to open the
	// same keys.
	readerArgs []string
}

func (k *kms) close() {
	clear(k.master)
	if k.client != nil {
		_ = k.client.Close()
	}
}

// errNoVersions reports a backend that cannot list its versions.
var errNoVersions = errors.New("kms: this key provider does not list its versions")

// primary returns the version new wraps use. A backend that cannot list
// versions (AWS KMS) is asked by wrapping a throw-away key.
func (k *kms) primary(ctx context.Context) (keyprovider.KeyID, error) {
	vs, err := k.versions(ctx)
	if errors.Is(err, errNoVersions) {
		probe := make([]byte, 32)
		_, id, err := k.Wrap(ctx, probe, []byte("fieldguard.pii/examples/keyrotation primary probe"))
		return id, err
	}
	if err != nil {
		return keyprovider.KeyID{}, err
	}
	for _, v := range vs {
		if v.Primary {
			return v.ID, nil
		}
	}
	return keyprovider.KeyID{}, errors.New("kms: no primary key version")
}

func (k *kms) versions(ctx context.Context) ([]keyprovider.Version, error) {
	switch {
	case k.mgr != nil:
		k.admins.Add(1)
		return k.mgr.Versions(ctx)
	case k.canDescribe:
		k.admins.Add(1)
		return k.client.Versions(ctx)
	}
	return nil, errNoVersions
}

// rotate creates a version and makes it primary in one step, on backends
// without a separate promote.
func (k *kms) rotate(ctx context.Context) (keyprovider.KeyID, error) {
	k.admins.Add(1)
	return k.client.Rotate(ctx)
}

func (k *kms) addVersion(ctx context.Context) (keyprovider.KeyID, error) {
	k.admins.Add(1)
	return k.mgr.AddVersion(ctx)
}

func (k *kms) promote(ctx context.Context, v string) error {
	k.admins.Add(1)
	return k.mgr.Promote(ctx, v)
}

func (k *kms) disable(ctx context.Context, v string) error {
	k.admins.Add(1)
	return k.mgr.Disable(ctx, v)
}

func (k *kms) destroy(ctx context.Context, v string) error {
	k.admins.Add(1)
	return k.mgr.Destroy(ctx, v)
}

// status returns the status of version v and whether it is primary.
func (k *kms) status(ctx context.Context, v string) (keyprovider.Status, bool, error) {
	vs, err := k.versions(ctx)
	if err != nil {
		return "", false, err
	}
	for _, x := range vs {
		if x.ID.Version == v {
			return x.Status, x.Primary, nil
		}
	}
	return "", false, fmt.Errorf("kms: key version %s not found", v)
}

const (
	keysetFile = "keyset.json"
	masterFile = "master.key"
)

// openLocalKeyset opens the development keyset in dir, creating it and its
// master key file when absent.
func openLocalKeyset(dir string) (*kms, error) {
	k := &kms{
		keysetPath: filepath.Join(dir, keysetFile),
		masterPath: filepath.Join(dir, masterFile),
	}
	_, kerr := os.Stat(k.keysetPath)
	_, merr := os.Stat(k.masterPath)
	switch {
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(merr, fs.ErrNotExist):
		master, err := local.GenerateMasterKey()
		if err != nil {
			return nil, err
		}
		if err := local.WriteMasterKeyFile(k.masterPath, master); err != nil {
			clear(master)
			return nil, err
		}
		p, err := local.Create(k.keysetPath, master)
		if err != nil {
			clear(master)
			return nil, err
		}
		k.local, k.master, k.created = p, master, true
	case kerr == nil && merr == nil:
		master, err := local.MasterKeyFromFile(k.masterPath)
		if err != nil {
			return nil, err
		}
		p, err := local.Open(k.keysetPath, master)
		if err != nil {
			clear(master)
			return nil, err
		}
		k.local, k.master = p, master
	case kerr == nil:
		return nil, fmt.Errorf("%s exists but its master key %s does not", k.keysetPath, k.masterPath)
	default:
		return nil, fmt.Errorf("%s exists without a keyset beside it; choose an empty --dir", k.masterPath)
	}
	k.counter = &counter{kp: k.local}
	k.mgr = k.local
	k.display = "local keyset " + k.keysetPath
	k.readerArgs = []string{"-keyset", k.keysetPath, "-master-file", k.masterPath}
	return k, nil
}

// masterKeyEnv holds the master key of a keyset named with --kms local://.
const masterKeyEnv = "PII_MASTER_KEY"

// openKMSURI opens the key provider a --kms URI names, through kmsuri (a
// local keyset is created if its file does not exist yet). Errors are one
// line and name the URI without credentials.
func openKMSURI(ctx context.Context, uri string) (*kms, error) {
	u, err := kmsuri.Parse(uri)
	if err != nil {
		return nil, err
	}
	created := false
	if u.Scheme == "local" {
		_, serr := os.Stat(u.Key)
		created = errors.Is(serr, fs.ErrNotExist)
	}
	opts, err := kmsOptions()
	if err != nil {
		return nil, err
	}
	opts.CreateLocal = true
	c, err := kmsuri.Open(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	k := &kms{client: c, counter: &counter{kp: c}, display: u.String(), readerArgs: []string{"-kms", uri}}
	switch b := c.Backend().(type) {
	case *local.Provider:
		// The scratch copy that wraps the second reader's probe needs the
		// master key; kmsuri read it from the same variable.
		master, err := local.MasterKeyFromEnv(masterKeyEnv)
		if err != nil {
			c.Close()
			return nil, err
		}
		k.local, k.mgr, k.master, k.keysetPath, k.created = b, b, master, u.Key, created
		k.display = "local keyset " + u.Key
	default:
		_, k.canRotate = b.(keyprovider.Rotator)
		_, k.canDescribe = b.(keyprovider.Describer)
	}
	return k, nil
}

// wrapUnderVersion wraps dataKey under version v without making v the
// primary of the real keyset: a keyset file is the unit other processes
// load, so a scratch copy of it, with v promoted, wraps the probe and is
// deleted. Only a local keyset can do this; other backends return false.
func (k *kms) wrapUnderVersion(ctx context.Context, dir, v string, dataKey, ad []byte) ([]byte, bool, error) {
	if k.local == nil {
		return nil, false, nil
	}
	data, err := os.ReadFile(k.keysetPath)
	if err != nil {
		return nil, false, err
	}
	scratch := filepath.Join(dir, ".probe-"+keysetFile)
	_ = os.Remove(scratch)
	if err := os.WriteFile(scratch, data, 0o600); err != nil {
		return nil, false, err
	}
	defer os.Remove(scratch)
	p, err := local.Open(scratch, k.master)
	if err != nil {
		return nil, false, err
	}
	if err := p.Promote(ctx, v); err != nil {
		return nil, false, err
	}
	w, kek, err := p.Wrap(ctx, dataKey, ad)
	if err != nil {
		return nil, false, err
	}
	if kek.Version != v {
		return nil, false, fmt.Errorf("kms: probe wrapped under version %s, want %s", kek.Version, v)
	}
	return w, true, nil
}

// gcpEmulatorEnv points gcp-kms:// URIs at a Cloud KMS imitation on a
// loopback address (plain gRPC, no credentials), as the tests do with
// internal/kmsfake/gcpkmstest. Anything but a loopback address is
// refused.
const gcpEmulatorEnv = "KEYROTATION_GCP_EMULATOR"

// kmsOptions are the kmsuri options of the main process and of the second
// reader alike.
func kmsOptions() (*kmsuri.Options, error) {
	o := &kmsuri.Options{}
	if addr := os.Getenv(gcpEmulatorEnv); addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("%s must be a loopback host:port", gcpEmulatorEnv)
		}
		o.Backend = append(o.Backend, &gcpkms.Options{ClientOptions: []option.ClientOption{
			option.WithEndpoint(addr),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		}})
	}
	return o, nil
}
