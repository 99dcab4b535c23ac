package mask

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCustomStyleInTags(t *testing.T) {
	m := testMaskerWith(t, map[string]styleFunc{"zip3": func(v, _ string) string {
		if len(v) < 5 {
			return Placeholder
		}
		return v[:3] + "**"
	}})
	type rec struct {
		Zip   string `pii:"postcode,mask=zip3"`
		Email string `pii:"email,mask=hmac:email"`
		Other string `pii:"email,mask=hmac,log=hmac"`
	}
	vs, err := NewViews(&ViewsOptions{Masker: m})
	require.NoError(t, err)
	r := &rec{Zip: "94107", Email: "a@example.com", Other: "a@example.com"}
	got, err := ViewOf(t.Context(), vs, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, r)
	require.NoError(t, err)
	require.Equal(t, "941**", got.Zip)
	require.True(t, strings.HasPrefix(got.Email, "hmac:t1:"))
	require.Equal(t, got.Email, got.Other, "mask=hmac uses the category as domain")
	require.Contains(t, fmt.Sprint(m.Redacted(r)), "Other:"+got.Email, "views and logs agree")

	// The default policy does not know zip3: the view fails instead of
	// showing the value.
	vs2, err := NewViews(nil)
	require.NoError(t, err)
	_, err = ViewOf(t.Context(), vs2, Viewer{ID: "a", Role: "agent", Channel: ChannelDirectMessage}, &rec{Zip: "94107"})
	require.ErrorIs(t, err, errUnknownStyle)
}
