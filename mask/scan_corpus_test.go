package mask

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type corpusLabel struct {
	Kind       Kind `json:"kind"`
	Start, End int
}

type corpusRecord struct {
	ID     int           `json:"id"`
	Text   string        `json:"text"`
	Labels []corpusLabel `json:"labels"`
}

func loadCorpus(t testing.TB) []corpusRecord {
	t.Helper()
	f, err := os.Open("testdata/corpus.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out []corpusRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r corpusRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		for _, l := range r.Labels {
			require.True(t, l.Start >= 0 && l.Start < l.End && l.End <= len(r.Text), "record %d: bad span", r.ID)
		}
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

type prCount struct{ tp, fp, fn int }

func (c prCount) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func (c prCount) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

// TestScanCorpus measures the scanner on the labelled corpus. A finding
// counts as a true positive only when kind and byte span both match.
func TestScanCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	require.GreaterOrEqual(t, len(corpus), 500)
	per := map[Kind]*prCount{}
	for _, k := range allKinds() {
		per[k] = &prCount{}
	}
	var total prCount
	var misses []string
	for _, r := range corpus {
		got := Scan(r.Text, nil)
		matched := make([]bool, len(got))
		for _, l := range r.Labels {
			c := per[l.Kind]
			require.NotNil(t, c, "record %d: unknown kind %q", r.ID, l.Kind)
			hit := false
			for i, f := range got {
				if !matched[i] && f.Kind == l.Kind && f.Start == l.Start && f.End == l.End {
					matched[i], hit = true, true
					break
				}
			}
			if hit {
				c.tp++
				total.tp++
			} else {
				c.fn++
				total.fn++
				misses = append(misses, fmt.Sprintf("record %d: missed %s %q", r.ID, l.Kind, r.Text[l.Start:l.End]))
			}
		}
		for i, f := range got {
			if !matched[i] {
				per[f.Kind].fp++
				total.fp++
				misses = append(misses, fmt.Sprintf("record %d: false %s %q in %q", r.ID, f.Kind, r.Text[f.Start:f.End], r.Text))
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-6s %5s %5s %5s %9s %9s\n", "kind", "tp", "fp", "fn", "precision", "recall")
	for _, k := range allKinds() {
		c := per[k]
		fmt.Fprintf(&b, "%-6s %5d %5d %5d %9.4f %9.4f\n", k, c.tp, c.fp, c.fn, c.precision(), c.recall())
	}
	fmt.Fprintf(&b, "%-6s %5d %5d %5d %9.4f %9.4f\n", "all", total.tp, total.fp, total.fn, total.precision(), total.recall())
	t.Logf("scanner on %d messages:%s", len(corpus), b.String())
	for _, m := range misses {
		t.Log(m)
	}
	require.GreaterOrEqual(t, total.precision(), 0.98)
	require.GreaterOrEqual(t, total.recall(), 0.98)
	require.Zero(t, per[KindCard].fn, "no card may be missed")
	require.Zero(t, per[KindIBAN].fn, "no IBAN may be missed")
	require.Greater(t, per[KindCard].tp, 50)
	require.Greater(t, per[KindIBAN].tp, 30)
}

// TestCorpusUpToDate regenerates the corpus and compares it with the
// committed file, so the labels always come from the generator and its
// hand-written lines.
func TestCorpusUpToDate(t *testing.T) {
	out, err := exec.Command("go", "run", "./internal/corpusgen").Output()
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/corpus.jsonl")
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, out), "testdata/corpus.jsonl is stale: go run ./mask/internal/corpusgen > mask/testdata/corpus.jsonl")
}
