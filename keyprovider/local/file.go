package local

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
)

// The keyset file is JSON:
//
//	{
//	  "header": {"format": ..., "name": ..., "generation": n, "versions": [...]},
//	  "keyset": <Tink encrypted keyset, JSON>
//	}
//
// The header is in clear (it holds no secret) and is the associated data of
// the keyset encryption, so it cannot be edited without the file failing to
// open. White space in it does not matter: the associated data is its
// compact form.
const (
	formatV1      = "fieldguard.pii/local-keyset/v1"
	adLabel       = "fieldguard.pii/local-keyset/v1 header\x00"
	hkdfInfo      = "fieldguard.pii/local-keyset/v1 keyset encryption"
	aesGCMTypeURL = "type.googleapis.com/google.crypto.tink.AesGcmKey"
)

type header struct {
	Format     string        `json:"format"`
	Name       string        `json:"name"`
	Generation uint64        `json:"generation"`
	Versions   []versionMeta `json:"versions"`
}

type versionMeta struct {
	ID        uint32     `json:"id"`
	Created   time.Time  `json:"created"`
	Destroyed *time.Time `json:"destroyed,omitempty"`
}

func (h header) clone() header {
	h.Versions = slices.Clone(h.Versions)
	return h
}

type fileDoc struct {
	Header json.RawMessage `json:"header"`
	Keyset json.RawMessage `json:"keyset"`
}

// masterAEAD encrypts the keyset under a key derived from the master key. It
// implements tink.AEAD: nonce (12 bytes) || ciphertext || tag.
type masterAEAD struct {
	gcm cipher.AEAD
}

func newMasterAEAD(master []byte) (*masterAEAD, error) {
	if len(master) != masterKeySize {
		return nil, fmt.Errorf("local: master key must be %d bytes, got %d", masterKeySize, len(master))
	}
	k, err := hkdf.Key(sha256.New, master, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("local: derive keyset encryption key: %w", err)
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("local: keyset encryption key: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("local: keyset encryption key: %w", err)
	}
	return &masterAEAD{gcm: gcm}, nil
}

var errMasterDecrypt = errors.New("local: keyset decryption failed")

func (m *masterAEAD) Encrypt(plaintext, ad []byte) ([]byte, error) {
	out := make([]byte, m.gcm.NonceSize(), m.gcm.NonceSize()+len(plaintext)+m.gcm.Overhead())
	_, _ = rand.Read(out)
	return m.gcm.Seal(out, out, plaintext, ad), nil
}

func (m *masterAEAD) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	n := m.gcm.NonceSize()
	if len(ciphertext) < n+m.gcm.Overhead() {
		return nil, errMasterDecrypt
	}
	pt, err := m.gcm.Open(nil, ciphertext[:n], ciphertext[n:], ad)
	if err != nil {
		return nil, errMasterDecrypt
	}
	return pt, nil
}

func headerAD(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(adLabel)
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encode serialises a keyset and its header into the file format.
func encode(hdr header, h *keyset.Handle, m *masterAEAD) ([]byte, error) {
	rawHeader, err := json.Marshal(hdr)
	if err != nil {
		return nil, fmt.Errorf("local: encode header: %w", err)
	}
	ad, err := headerAD(rawHeader)
	if err != nil {
		return nil, fmt.Errorf("local: encode header: %w", err)
	}
	var ks bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewJSONWriter(&ks), m, ad); err != nil {
		return nil, fmt.Errorf("local: encrypt keyset: %w", err)
	}
	out, err := json.MarshalIndent(fileDoc{Header: rawHeader, Keyset: ks.Bytes()}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("local: encode keyset file: %w", err)
	}
	return append(out, '\n'), nil
}

// parseHeader reads the clear header of a keyset file without decrypting
// (and so without authenticating) it.
func parseHeader(data []byte) (fileDoc, header, error) {
	var doc fileDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return doc, header{}, errors.New("not a keyset file (malformed JSON)")
	}
	if len(doc.Header) == 0 || len(doc.Keyset) == 0 {
		return doc, header{}, errors.New("not a keyset file (header or keyset missing)")
	}
	var hdr header
	if err := json.Unmarshal(doc.Header, &hdr); err != nil {
		return doc, header{}, errors.New("not a keyset file (malformed header)")
	}
	if hdr.Format != formatV1 {
		return doc, header{}, fmt.Errorf("unsupported keyset file format %q (want %q)", hdr.Format, formatV1)
	}
	return doc, hdr, nil
}

// errWrongMaster is returned, wrapped, when the keyset does not decrypt.
var errWrongMaster = errors.New("wrong master key, or the keyset file was modified")

// decode parses and decrypts a keyset file.
func decode(data []byte, m *masterAEAD) (header, *keyset.Handle, error) {
	doc, hdr, err := parseHeader(data)
	if err != nil {
		return header{}, nil, err
	}
	ad, err := headerAD(doc.Header)
	if err != nil {
		return header{}, nil, errors.New("not a keyset file (malformed header)")
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewJSONReader(bytes.NewReader(doc.Keyset)), m, ad)
	if err != nil {
		return header{}, nil, errWrongMaster
	}
	return hdr, h, nil
}

// writeFile writes data to path atomically: a temporary file in the same
// directory is written and fsynced, then renamed over path (or, when
// exclusive, hard-linked to path, which fails if path exists), and the
// directory is fsynced. A crash leaves either the old file or the new one.
func writeFile(path string, data []byte, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if exclusive {
		if err := os.Link(name, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return err
			}
			// No hard links on this file system: check, then rename.
			if _, statErr := os.Lstat(path); statErr == nil {
				return &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
			}
			if err := os.Rename(name, path); err != nil {
				return err
			}
		} else {
			_ = os.Remove(name)
		}
	} else if err := os.Rename(name, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}
