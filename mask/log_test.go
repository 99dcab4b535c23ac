package mask

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// needles returns every clear value in the forms an output might carry it.
func needles(c *testCustomer) []string {
	var out []string
	for _, v := range clearValues(c) {
		out = append(out, v, strconv.Quote(v)[1:len(strconv.Quote(v))-1], hex.EncodeToString([]byte(v)),
			strings.ToUpper(hex.EncodeToString([]byte(v))))
	}
	return append(out, "6789", "asthma", "Wonderland", "ally_cat")
}

// pointerRE matches the addresses %p, %x and %v print for pointers: they
// are random, and one holding a needle such as "6789" is no leak.
var pointerRE = regexp.MustCompile(`0x[0-9a-fA-F]+`)

func requireClean(t *testing.T, what, out string, c *testCustomer) {
	t.Helper()
	out = pointerRE.ReplaceAllString(out, "0xADDR")
	for _, n := range needles(c) {
		if strings.Contains(out, n) {
			t.Fatalf("%s leaks a clear value (%d bytes) in %q", what, len(n), out)
		}
	}
}

func TestRedactedMatrix(t *testing.T) {
	c := newCustomer()
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p", "%T", "%t", "%e", "%f", "%g", "%o", "%b", "%c", "%U", "%8.3v", "%-20s"}
	require.GreaterOrEqual(t, len(verbs), 16)
	wrapped := map[string]slog.LogValuer{
		"value":   Redacted(*c),
		"pointer": Redacted(c),
		"slice":   Redacted([]testCustomer{*c, *c}),
		"ptrs":    Redacted([]*testCustomer{c, nil}),
		"map":     Redacted(map[string]*testCustomer{c.Email: c}),
		"string":  Redacted(c.Card),
		"zero":    value{},
	}
	r := Redacted(c)
	rv := r.(value)
	containers := map[string]any{
		"wrapper":     r,
		"ptr-wrapper": &rv,
		"slice":       []value{rv, rv},
		"map":         map[string]value{"k": rv},
		"struct":      struct{ C value }{rv},
		"iface-slice": []slog.LogValuer{r, r},
		"any-slice":   []any{r},
	}
	for name, w := range wrapped {
		containers["wrapped-"+name] = w
	}
	// Negative control: the search finds clear values in unwrapped output.
	for _, raw := range []string{fmt.Sprintf("%+v", *c), fmt.Sprintf("%x", c.Card), fmt.Sprintf("%q", c.Email)} {
		found := false
		for _, nd := range needles(c) {
			found = found || strings.Contains(raw, nd)
		}
		require.True(t, found, "needle search must detect an unredacted value")
	}
	n := 0
	for cname, x := range containers {
		for _, verb := range verbs {
			requireClean(t, cname+" "+verb, fmt.Sprintf(verb, x), c)
			n++
		}
		requireClean(t, cname+" Sprint", fmt.Sprint(x), c)
		requireClean(t, cname+" Sprintln", fmt.Sprintln(x), c)
		requireClean(t, cname+" Errorf", fmt.Errorf("wrap: %v", x).Error(), c)

		js, err := json.Marshal(x)
		require.NoError(t, err, cname)
		requireClean(t, cname+" json", string(js), c)

		for _, h := range []string{"text", "json"} {
			var buf bytes.Buffer
			var l *slog.Logger
			if h == "text" {
				l = slog.New(slog.NewTextHandler(&buf, nil))
			} else {
				l = slog.New(slog.NewJSONHandler(&buf, nil))
			}
			l.Info("customer", "c", x)
			l.Info("customer", slog.Any("c", x))
			l.With("c", x).Info("with")
			l.Info("group", slog.Group("g", "c", x))
			requireClean(t, cname+" slog "+h, buf.String(), c)
			require.NotEmpty(t, buf.String())
		}
	}
	t.Logf("%d fmt outputs checked", n)
}

func TestRedactedRendering(t *testing.T) {
	c := newCustomer()
	got := fmt.Sprint(Redacted(c))
	require.Equal(t, "{type:testCustomer ID:cus_42 Subject:subj_42 Email:a***@example.com Card:**** **** **** 1111 BirthDate:1987-**-**}", got)
	require.Equal(t, redactedText, fmt.Sprint(Redacted("4111 1111 1111 1111")))
	require.Equal(t, `"`+got+`"`, fmt.Sprintf("%q", Redacted(c)))
	require.Equal(t, "mask.Redacted("+strconv.Quote(got)+")", fmt.Sprintf("%#v", Redacted(c)))
	require.Equal(t, "mask.value", fmt.Sprintf("%T", Redacted(c)))

	js, err := json.Marshal(Redacted(c))
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"testCustomer","ID":"cus_42","Subject":"subj_42","Email":"a***@example.com","Card":"**** **** **** 1111","BirthDate":"1987-**-**"}`, string(js))

	// With an HMAC key, log=hmac fields show a pseudonym.
	m := testMasker(t)
	got = fmt.Sprint(m.Redacted(c))
	require.Contains(t, got, "Phone:hmac:t1:")
	require.Equal(t, got, fmt.Sprint(m.Redacted(c)), "pseudonyms are stable")

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "c", Redacted(c))
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, map[string]any{"type": "testCustomer", "ID": "cus_42", "Subject": "subj_42",
		"Email": "a***@example.com", "Card": "**** **** **** 1111", "BirthDate": "1987-**-**"}, line["c"])

	// A tagged type is its own slog.LogValuer through Redacted (the
	// documented one-liner), without recursing into itself.
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "c", loggedCustomer(*c))
	line = nil
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, map[string]any{"type": "loggedCustomer", "ID": "cus_42", "Subject": "subj_42",
		"Email": "a***@example.com", "Card": "**** **** **** 1111", "BirthDate": "1987-**-**"}, line["c"])
}

type loggedCustomer testCustomer

func (c loggedCustomer) LogValue() slog.Value { return Redacted(c).LogValue() }
