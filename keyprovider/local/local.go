package local

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/fieldguard/pii/internal/redact"
	"github.com/fieldguard/pii/keyprovider"
)

var (
	_ keyprovider.KeyProvider = (*Provider)(nil)
	_ keyprovider.Rotator     = (*Provider)(nil)
	_ keyprovider.Rewrapper   = (*Provider)(nil)
	_ keyprovider.Describer   = (*Provider)(nil)
	_ fmt.Formatter           = (*Provider)(nil)
	_ fmt.GoStringer          = (*Provider)(nil)
	_ slog.LogValuer          = (*Provider)(nil)
	_ json.Marshaler          = (*Provider)(nil)
)

// ErrStale is returned (wrapped) by a key-management call when the keyset
// file was changed by another Provider or process since this one read it.
// Call Reload and decide again.
var ErrStale = errors.New("local: keyset file changed on disk since it was read; call Reload and retry")

// Tink's output prefix: 0x01 then the 4-byte big-endian key id.
const (
	tinkPrefixByte = 0x01
	prefixSize     = 5
	nonceSize      = 12
	tagSize        = 16
)

// Provider is a keyprovider.KeyProvider over a local keyset file. It is safe
// for concurrent use. It prints as a description (path, keyset name,
// primary version), never key material.
type Provider struct {
	noPrint
	path   string
	master *masterAEAD

	mu sync.Mutex            // serialises changes to the file
	st atomic.Pointer[state] // the keyset as last read or written; immutable
}

// state is one immutable snapshot of the keyset.
type state struct {
	hdr     header
	handle  *keyset.Handle
	aead    tink.AEAD
	status  map[uint32]keyprovider.Status
	primary uint32
}

func newState(hdr header, h *keyset.Handle) (*state, error) {
	if hdr.Format != formatV1 || hdr.Name == "" {
		return nil, errors.New("malformed header")
	}
	st := &state{hdr: hdr, handle: h, status: map[uint32]keyprovider.Status{}}
	for _, v := range hdr.Versions {
		if _, dup := st.status[v.ID]; dup {
			return nil, fmt.Errorf("version %d listed twice", v.ID)
		}
		st.status[v.ID] = keyprovider.StatusDestroyed
		if v.Destroyed == nil {
			st.status[v.ID] = "" // must be found in the keyset
		}
	}
	info := h.KeysetInfo()
	for _, ki := range info.GetKeyInfo() {
		id := ki.GetKeyId()
		if ki.GetTypeUrl() != aesGCMTypeURL || ki.GetOutputPrefixType() != tinkpb.OutputPrefixType_TINK {
			return nil, fmt.Errorf("version %d is not a TINK-prefixed AES-GCM key", id)
		}
		s, ok := st.status[id]
		if !ok || s != "" {
			return nil, fmt.Errorf("version %d is not listed, or listed as destroyed, in the header", id)
		}
		switch ki.GetStatus() {
		case tinkpb.KeyStatusType_ENABLED:
			st.status[id] = keyprovider.StatusEnabled
		case tinkpb.KeyStatusType_DISABLED:
			st.status[id] = keyprovider.StatusDisabled
		default:
			return nil, fmt.Errorf("version %d has unsupported status %s", id, ki.GetStatus())
		}
	}
	for id, s := range st.status {
		if s == "" {
			return nil, fmt.Errorf("version %d is listed in the header but missing from the keyset", id)
		}
	}
	st.primary = info.GetPrimaryKeyId()
	if st.status[st.primary] != keyprovider.StatusEnabled {
		return nil, errors.New("the primary version is missing or not enabled")
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("build AEAD: %w", err)
	}
	st.aead = a
	return st, nil
}

func newKeysetName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "local/" + hex.EncodeToString(b)
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Create makes a new keyset file at path with one primary AES-256-GCM
// version, encrypted under the 32-byte master key. It refuses to overwrite
// an existing file. The caller's master slice is not retained.
func Create(path string, master []byte) (*Provider, error) {
	m, err := newMasterAEAD(master)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("local: create %s: file exists; refusing to overwrite a keyset (use Open)", path)
	}
	mgr := keyset.NewManager()
	id, err := mgr.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("local: create: %w", err)
	}
	if err := mgr.SetPrimary(id); err != nil {
		return nil, fmt.Errorf("local: create: %w", err)
	}
	h, err := mgr.Handle()
	if err != nil {
		return nil, fmt.Errorf("local: create: %w", err)
	}
	hdr := header{Format: formatV1, Name: newKeysetName(), Generation: 1, Versions: []versionMeta{{ID: id, Created: now()}}}
	st, err := newState(hdr, h)
	if err != nil {
		return nil, fmt.Errorf("local: create: %w", err)
	}
	data, err := encode(hdr, h, m)
	if err != nil {
		return nil, err
	}
	if err := writeFile(path, data, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("local: create %s: file exists; refusing to overwrite a keyset (use Open)", path)
		}
		return nil, fmt.Errorf("local: create: %w", err)
	}
	p := newProvider(path, m)
	p.st.Store(st)
	return p, nil
}

// noPrint gives the Provider the printing methods of internal/redact.
type noPrint = redact.Redacted

func newProvider(path string, m *masterAEAD) *Provider {
	p := &Provider{path: path, master: m}
	p.noPrint = redact.Describe(p.describe)
	return p
}

// Open loads the keyset file at path, decrypting it with the 32-byte master
// key. A wrong master key, or a file modified by anything but this package,
// gives an error matching keyprovider.ErrAuthentication. The caller's master
// slice is not retained.
func Open(path string, master []byte) (*Provider, error) {
	m, err := newMasterAEAD(master)
	if err != nil {
		return nil, err
	}
	p := newProvider(path, m)
	st, err := p.load()
	if err != nil {
		return nil, err
	}
	p.st.Store(st)
	return p, nil
}

func (p *Provider) load() (*state, error) {
	data, err := os.ReadFile(p.path)
	if err != nil {
		return nil, fmt.Errorf("local: open keyset: %w", err)
	}
	hdr, h, err := decode(data, p.master)
	if errors.Is(err, errWrongMaster) {
		return nil, fmt.Errorf("local: open keyset %s: %w: %w", p.path, err, keyprovider.ErrAuthentication)
	}
	if err != nil {
		return nil, fmt.Errorf("local: open keyset %s: %w", p.path, err)
	}
	st, err := newState(hdr, h)
	if err != nil {
		return nil, fmt.Errorf("local: open keyset %s: inconsistent keyset: %w", p.path, err)
	}
	return st, nil
}

// Reload re-reads the keyset file, picking up versions added, promoted,
// disabled or destroyed by another process. On error the Provider keeps
// its current keyset. A file that now holds a different keyset (another
// name) is refused.
func (p *Provider) Reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.load()
	if err != nil {
		return err
	}
	if cur := p.st.Load(); st.hdr.Name != cur.hdr.Name {
		return fmt.Errorf("local: reload %s: the file now holds keyset %s, not %s; Open it instead", p.path, st.hdr.Name, cur.hdr.Name)
	}
	p.st.Store(st)
	return nil
}

// Primary returns the id of the version that wraps new keys.
func (p *Provider) Primary() keyprovider.KeyID {
	st := p.st.Load()
	return st.keyID(st.primary)
}

func (st *state) keyID(id uint32) keyprovider.KeyID {
	return keyprovider.KeyID{Key: st.hdr.Name, Version: strconv.FormatUint(uint64(id), 10)}
}

// Wrap encrypts dataKey under the primary version with associatedData
// authenticated. The result starts with Tink's 5-byte prefix naming the
// version.
func (p *Provider) Wrap(ctx context.Context, dataKey, associatedData []byte) ([]byte, keyprovider.KeyID, error) {
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	st := p.st.Load()
	wrapped, err := st.aead.Encrypt(dataKey, associatedData)
	if err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify("wrap", keyprovider.ErrInvalidArgument, errors.New("local: wrap failed"))
	}
	return wrapped, st.keyID(st.primary), nil
}

// Unwrap decrypts a key made by Wrap, with the same associated data.
func (p *Provider) Unwrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p.st.Load().unwrap("unwrap", wrapped, associatedData)
}

// unwrap is Unwrap of st; op names the call in errors ("unwrap", "rewrap").
func (st *state) unwrap(op string, wrapped, associatedData []byte) ([]byte, error) {
	if len(wrapped) < prefixSize+nonceSize+tagSize || wrapped[0] != tinkPrefixByte {
		return nil, keyprovider.Classify(op, keyprovider.ErrAuthentication, errors.New("local: malformed wrapped key"))
	}
	id := binary.BigEndian.Uint32(wrapped[1:prefixSize])
	switch st.status[id] {
	case keyprovider.StatusEnabled:
	case keyprovider.StatusDisabled:
		return nil, keyprovider.Classify(op, keyprovider.ErrKeyDisabled, fmt.Errorf("local: wrapped under version %d of %s, which is disabled", id, st.hdr.Name))
	case keyprovider.StatusDestroyed:
		return nil, keyprovider.Classify(op, keyprovider.ErrKeyDestroyed, fmt.Errorf("local: wrapped under version %d of %s, which is destroyed", id, st.hdr.Name))
	default:
		return nil, keyprovider.Classify(op, keyprovider.ErrKeyNotFound, fmt.Errorf("local: wrapped under a version keyset %s does not have", st.hdr.Name))
	}
	key, err := st.aead.Decrypt(wrapped, associatedData)
	if err != nil {
		return nil, keyprovider.Classify(op, keyprovider.ErrAuthentication, errors.New("local: wrapped key did not authenticate (tampered, or different associated data)"))
	}
	return key, nil
}

// Rewrap unwraps wrapped and wraps the key again under the primary version,
// with the same associated data. The data key is cleared from memory before
// Rewrap returns (as far as Go allows).
func (p *Provider) Rewrap(ctx context.Context, wrapped, associatedData []byte) ([]byte, keyprovider.KeyID, error) {
	if err := ctx.Err(); err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	st := p.st.Load()
	key, err := st.unwrap("rewrap", wrapped, associatedData)
	if err != nil {
		return nil, keyprovider.KeyID{}, err
	}
	defer clear(key)
	out, err := st.aead.Encrypt(key, associatedData)
	if err != nil {
		return nil, keyprovider.KeyID{}, keyprovider.Classify("rewrap", keyprovider.ErrInvalidArgument, errors.New("local: wrap failed"))
	}
	return out, st.keyID(st.primary), nil
}

// Versions lists every version in creation order, destroyed ones included.
func (p *Provider) Versions(ctx context.Context) ([]keyprovider.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := p.st.Load()
	out := make([]keyprovider.Version, 0, len(st.hdr.Versions))
	for _, v := range st.hdr.Versions {
		out = append(out, keyprovider.Version{
			ID:      st.keyID(v.ID),
			Status:  st.status[v.ID],
			Primary: v.ID == st.primary,
			Created: v.Created,
		})
	}
	return out, nil
}

// AddVersion adds a new enabled, non-primary version and returns its id.
// Other processes need Reload before they can unwrap under it; promote it
// only after they have.
func (p *Provider) AddVersion(ctx context.Context) (keyprovider.KeyID, error) {
	var id uint32
	err := p.change(ctx, "add", func(m *keyset.Manager, hdr *header, _ *state) error {
		var err error
		id, err = addVersion(m, hdr)
		return err
	})
	if err != nil {
		return keyprovider.KeyID{}, err
	}
	return p.st.Load().keyID(id), nil
}

// Rotate adds a new version and makes it primary in one write.
func (p *Provider) Rotate(ctx context.Context) (keyprovider.KeyID, error) {
	var id uint32
	err := p.change(ctx, "rotate", func(m *keyset.Manager, hdr *header, _ *state) error {
		var err error
		if id, err = addVersion(m, hdr); err != nil {
			return err
		}
		return m.SetPrimary(id)
	})
	if err != nil {
		return keyprovider.KeyID{}, err
	}
	return p.st.Load().keyID(id), nil
}

func addVersion(m *keyset.Manager, hdr *header) (uint32, error) {
	// Tink picks a random id not used by a key in the keyset; a destroyed
	// version is no longer in it, so also avoid the ids the header remembers:
	// a wrapped key must never name two versions.
	for {
		id, err := m.Add(aead.AES256GCMKeyTemplate())
		if err != nil {
			return 0, err
		}
		if !slices.ContainsFunc(hdr.Versions, func(v versionMeta) bool { return v.ID == id }) {
			hdr.Versions = append(hdr.Versions, versionMeta{ID: id, Created: now()})
			return id, nil
		}
		if err := m.Delete(id); err != nil {
			return 0, err
		}
	}
}

// Promote makes an enabled version the primary: new wraps use it.
func (p *Provider) Promote(ctx context.Context, version string) error {
	return p.changeVersion(ctx, "promote", version, func(m *keyset.Manager, _ *header, st *state, id uint32) error {
		switch st.status[id] {
		case keyprovider.StatusDisabled:
			return refused("promote", "version %d is disabled; enable it first", id)
		case keyprovider.StatusDestroyed:
			return keyprovider.Classify("promote", keyprovider.ErrKeyDestroyed, fmt.Errorf("local: version %d is destroyed", id))
		}
		if id == st.primary {
			return errNoChange
		}
		return m.SetPrimary(id)
	})
}

// Disable stops a version from unwrapping (keyprovider.ErrKeyDisabled) while
// keeping its key material; Enable undoes it. The primary cannot be
// disabled.
func (p *Provider) Disable(ctx context.Context, version string) error {
	return p.changeVersion(ctx, "disable", version, func(m *keyset.Manager, _ *header, st *state, id uint32) error {
		switch {
		case st.status[id] == keyprovider.StatusDestroyed:
			return keyprovider.Classify("disable", keyprovider.ErrKeyDestroyed, fmt.Errorf("local: version %d is destroyed", id))
		case id == st.primary:
			return refused("disable", "version %d is the primary; promote another version first", id)
		case st.status[id] == keyprovider.StatusDisabled:
			return errNoChange
		}
		return m.Disable(id)
	})
}

// Enable re-enables a disabled version. A destroyed version cannot come back.
func (p *Provider) Enable(ctx context.Context, version string) error {
	return p.changeVersion(ctx, "enable", version, func(m *keyset.Manager, _ *header, st *state, id uint32) error {
		switch st.status[id] {
		case keyprovider.StatusDestroyed:
			return keyprovider.Classify("enable", keyprovider.ErrKeyDestroyed, fmt.Errorf("local: version %d is destroyed and cannot be enabled", id))
		case keyprovider.StatusEnabled:
			return errNoChange
		}
		return m.Enable(id)
	})
}

// Destroy deletes a version's key material from the file for good. Keys
// wrapped under it can never be unwrapped again (keyprovider.ErrKeyDestroyed);
// rewrap them first. The primary and the last enabled version cannot be
// destroyed. The version stays listed by Versions as destroyed.
func (p *Provider) Destroy(ctx context.Context, version string) error {
	return p.changeVersion(ctx, "destroy", version, func(m *keyset.Manager, hdr *header, st *state, id uint32) error {
		if st.status[id] == keyprovider.StatusDestroyed {
			return errNoChange
		}
		if id == st.primary {
			return refused("destroy", "version %d is the primary; promote another version first", id)
		}
		enabled := 0
		for _, s := range st.status {
			if s == keyprovider.StatusEnabled {
				enabled++
			}
		}
		if st.status[id] == keyprovider.StatusEnabled && enabled <= 1 {
			return refused("destroy", "version %d is the last enabled version", id)
		}
		if err := m.Delete(id); err != nil {
			return err
		}
		t := now()
		for i := range hdr.Versions {
			if hdr.Versions[i].ID == id {
				hdr.Versions[i].Destroyed = &t
			}
		}
		return nil
	})
}

func refused(op, format string, args ...any) error {
	return keyprovider.Classify(op, keyprovider.ErrInvalidArgument, fmt.Errorf("local: refusing to "+op+": "+format, args...))
}

// errNoChange tells change that the call is already satisfied.
var errNoChange = errors.New("no change")

func parseVersion(op, version string) (uint32, error) {
	id, err := strconv.ParseUint(version, 10, 32)
	if err != nil {
		return 0, keyprovider.Classify(op, keyprovider.ErrInvalidArgument, fmt.Errorf("local: malformed version id %q (want a decimal Tink key id)", version))
	}
	return uint32(id), nil
}

func (p *Provider) changeVersion(ctx context.Context, op, version string, f func(*keyset.Manager, *header, *state, uint32) error) error {
	id, err := parseVersion(op, version)
	if err != nil {
		return err
	}
	return p.change(ctx, op, func(m *keyset.Manager, hdr *header, st *state) error {
		if _, ok := st.status[id]; !ok {
			return keyprovider.Classify(op, keyprovider.ErrKeyNotFound, fmt.Errorf("local: keyset %s has no version %d", st.hdr.Name, id))
		}
		return f(m, hdr, st, id)
	})
}

// change applies f to a copy of the keyset and writes the result to the
// file atomically; the in-memory keyset changes only once the file is
// written.
func (p *Provider) change(ctx context.Context, op string, f func(*keyset.Manager, *header, *state) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st.Load()

	data, err := os.ReadFile(p.path)
	if err != nil {
		return keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("local: read keyset: %w", err))
	}
	if _, disk, err := parseHeader(data); err != nil || disk.Name != st.hdr.Name || disk.Generation != st.hdr.Generation {
		return keyprovider.Classify(op, keyprovider.ErrInvalidArgument, ErrStale)
	}

	m := keyset.NewManagerFromHandle(st.handle)
	hdr := st.hdr.clone()
	if err := f(m, &hdr, st); err != nil {
		if errors.Is(err, errNoChange) {
			return nil
		}
		return keyprovider.Classify(op, keyprovider.ErrInvalidArgument, err)
	}
	hdr.Generation++
	h, err := m.Handle()
	if err != nil {
		return keyprovider.Classify(op, keyprovider.ErrInvalidArgument, fmt.Errorf("local: %s: %w", op, err))
	}
	next, err := newState(hdr, h)
	if err != nil {
		return keyprovider.Classify(op, keyprovider.ErrInvalidArgument, fmt.Errorf("local: %s: %w", op, err))
	}
	out, err := encode(hdr, h, p.master)
	if err != nil {
		return keyprovider.Classify(op, keyprovider.ErrInvalidArgument, err)
	}
	if err := writeFile(p.path, out, false); err != nil {
		return keyprovider.Classify(op, keyprovider.ErrUnavailable, fmt.Errorf("local: write keyset: %w", err))
	}
	p.st.Store(next)
	return nil
}

// describe is what the Provider prints under every fmt verb, in slog and
// in JSON (see newProvider): its path, keyset name and primary version,
// never key material.
func (p *Provider) describe() string {
	st := p.st.Load()
	if st == nil {
		return fmt.Sprintf("local.Provider{path: %q}", p.path)
	}
	return fmt.Sprintf("local.Provider{path: %q, keyset: %q, primary: %d}", p.path, st.hdr.Name, st.primary)
}
