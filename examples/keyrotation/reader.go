package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/fieldguard/pii/keyprovider"
	"github.com/fieldguard/pii/keyprovider/kmsuri"
	"github.com/fieldguard/pii/keyprovider/local"
)

// readerCommand is the hidden first argument that turns the binary into the
// second reader: a separate process that opens the same keys the way
// another application server would, and reports what it can decrypt.
const readerCommand = "__second-reader"

// readerReport is what the second reader prints (JSON on one line). It
// holds no secret: the probe key is reported as a key check value.
type readerReport struct {
	PID     int    `json:"pid"`
	Status  string `json:"status"`  // status of the expected version as the reader sees it
	Primary string `json:"primary"` // the reader's primary version
	KCV     string `json:"kcv"`     // check value of the unwrapped probe, hex; empty without a probe
}

// kcv is a key check value: a keyed hash under the key itself, which shows
// two parties hold the same key without revealing it.
func kcv(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fieldguard.pii/examples/keyrotation kcv\x00" + label))
	return m.Sum(nil)[:16]
}

// runReader is the child process. Stdin holds two hex lines: the probe
// wrapped under the new version (may be empty) and its associated data.
func runReader(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(readerCommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keysetPath := fs.String("keyset", "", "")
	masterPath := fs.String("master-file", "", "")
	masterEnv := fs.String("master-env", "", "")
	version := fs.String("version", "", "")
	uri := fs.String("kms", "", "")
	if err := fs.Parse(args); err != nil || (*keysetPath == "" && *uri == "") || *version == "" {
		fmt.Fprintln(stderr, "keyrotation reader: bad arguments")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "keyrotation reader: "+firstLine(err.Error()))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var p interface {
		keyprovider.KeyProvider
		keyprovider.Describer
	}
	if *uri != "" {
		opts, err := kmsOptions()
		if err != nil {
			return fail(err)
		}
		c, err := kmsuri.Open(ctx, *uri, opts)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		p = c
	} else {
		var master []byte
		var err error
		if *masterEnv != "" {
			master, err = local.MasterKeyFromEnv(*masterEnv)
		} else {
			master, err = local.MasterKeyFromFile(*masterPath)
		}
		if err != nil {
			return fail(err)
		}
		lp, err := local.Open(*keysetPath, master)
		clear(master)
		if err != nil {
			return fail(err)
		}
		p = lp
	}
	rep := readerReport{PID: os.Getpid()}
	vs, err := p.Versions(ctx)
	if errors.Is(err, errors.ErrUnsupported) {
		vs, err = nil, nil // the KMS does not list versions; the probe decides
	}
	if err != nil {
		return fail(err)
	}
	for _, v := range vs {
		if v.ID.Version == *version {
			rep.Status = string(v.Status)
		}
		if v.Primary {
			rep.Primary = v.ID.Version
		}
	}

	in := bufio.NewScanner(stdin)
	var lines [2][]byte
	for i := range lines {
		if !in.Scan() {
			break
		}
		lines[i], err = hex.DecodeString(strings.TrimSpace(in.Text()))
		if err != nil {
			return fail(errors.New("malformed probe"))
		}
	}
	if len(lines[0]) > 0 {
		key, err := p.Unwrap(ctx, lines[0], lines[1])
		if err != nil {
			return fail(err)
		}
		rep.KCV = hex.EncodeToString(kcv(key, "reader probe"))
		clear(key)
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		return fail(err)
	}
	return 0
}

// secondReader starts the reader child on the same keys and proves it can
// unwrap under version v before v wraps anything: a probe key wrapped under
// v (without promoting it) must come back with the same check value.
func (r *runner) secondReader(ctx context.Context, v string) (string, error) {
	probe := make([]byte, 32)
	if _, err := rand.Read(probe); err != nil {
		return "", err
	}
	defer clear(probe)
	ad := []byte("fieldguard.pii/examples/keyrotation reader probe")
	wrapped, ok, err := r.kms.wrapUnderVersion(ctx, r.dir, v, probe, ad)
	if err != nil {
		return "", fmt.Errorf("second reader: wrap probe: %w", err)
	}
	if ok {
		r.kms.wraps.Add(1)
	} else {
		// A KMS that promoted v when it created it wraps under v now.
		w, kek, err := r.kms.Wrap(ctx, probe, ad)
		if err != nil {
			return "", fmt.Errorf("second reader: wrap probe: %w", err)
		}
		wrapped, ok = w, kek.Version == v
	}

	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("second reader: %w", err)
	}
	args := append([]string{readerCommand}, r.kms.readerArgs...)
	args = append(args, "-version", v)
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdin = strings.NewReader(hex.EncodeToString(wrapped) + "\n" + hex.EncodeToString(ad) + "\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("second reader failed: %s", firstLine(msg))
	}
	r.kms.unwraps.Add(1) // the reader's unwrap reaches the KMS too
	var rep readerReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return "", errors.New("second reader: unreadable report")
	}
	if rep.Status != string(keyprovider.StatusEnabled) && (rep.Status != "" || !ok) {
		return "", fmt.Errorf("second reader (pid %d) does not see version %s enabled (status %q); do not promote it", rep.PID, v, rep.Status)
	}
	if !ok {
		return fmt.Sprintf("reader sees version %s enabled; pid %d re-opened the keys (primary still %s)", v, rep.PID, rep.Primary), nil
	}
	want := hex.EncodeToString(kcv(probe, "reader probe"))
	if !hmac.Equal([]byte(rep.KCV), []byte(want)) {
		return "", fmt.Errorf("second reader (pid %d) unwrapped the probe to a different key", rep.PID)
	}
	if r.kms.local == nil {
		return fmt.Sprintf("reader unwrapped under version %s; pid %d opened the same KMS key and unwrapped a probe key wrapped under it", v, rep.PID), nil
	}
	return fmt.Sprintf("reader unwrapped under version %s; pid %d re-opened the keyset, sees version %s enabled (primary still %s) and unwrapped a probe key wrapped under it", v, rep.PID, v, rep.Primary), nil
}
