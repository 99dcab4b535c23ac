package pii

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a retention period. Calendar parts (years, months, days) are
// applied with [time.Time.AddDate], so "6m" after 31 August is the last day
// of February-plus-overflow exactly as AddDate defines it, and "2y" spans
// leap days; the clock part is an exact [time.Duration].
//
// The zero Duration means "not set".
type Duration struct {
	Years, Months, Days int
	Clock               time.Duration
}

// ParseDuration reads a retention period: a whole number followed by a unit
// (d days, h hours, w weeks, m calendar months, y calendar years), several
// such terms concatenated ("1y6m"), or an ISO 8601 duration ("P2Y6M",
// "P30D", "PT12H", "P1Y2M3DT4H5M6S", "P2W"). Minutes in the short form are
// not supported ("m" means months); use ISO 8601 "PT30M".
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return Duration{}, fmt.Errorf("pii: empty duration")
	}
	var d Duration
	var err error
	if s[0] == 'P' {
		d, err = parseISODuration(s)
	} else {
		d, err = parseShortDuration(s)
	}
	if err != nil {
		return Duration{}, err
	}
	if d.IsZero() {
		return Duration{}, fmt.Errorf("pii: duration %q is zero", s)
	}
	return d, nil
}

func parseShortDuration(s string) (Duration, error) {
	var d Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return Duration{}, fmt.Errorf("pii: malformed duration %q (want e.g. 30d, 12h, 6m, 2y or P2Y6M)", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > 100000 {
			return Duration{}, fmt.Errorf("pii: duration %q out of range", s)
		}
		switch rest[i] {
		case 'y':
			d.Years += n
		case 'm':
			d.Months += n
		case 'w':
			d.Days += 7 * n
		case 'd':
			d.Days += n
		case 'h':
			d.Clock += time.Duration(n) * time.Hour
		default:
			return Duration{}, fmt.Errorf("pii: malformed duration %q: unknown unit %q (want d, h, w, m or y)", s, rest[i])
		}
		rest = rest[i+1:]
	}
	return d, nil
}

func parseISODuration(s string) (Duration, error) {
	bad := func() (Duration, error) {
		return Duration{}, fmt.Errorf("pii: malformed ISO 8601 duration %q", s)
	}
	var d Duration
	rest := s[1:]
	inTime := false
	seen := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad()
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return bad()
			}
			continue
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return bad()
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > 100000 {
			return bad()
		}
		unit := rest[i]
		switch {
		case !inTime && unit == 'Y':
			d.Years += n
		case !inTime && unit == 'M':
			d.Months += n
		case !inTime && unit == 'W':
			d.Days += 7 * n
		case !inTime && unit == 'D':
			d.Days += n
		case inTime && unit == 'H':
			d.Clock += time.Duration(n) * time.Hour
		case inTime && unit == 'M':
			d.Clock += time.Duration(n) * time.Minute
		case inTime && unit == 'S':
			d.Clock += time.Duration(n) * time.Second
		default:
			return bad()
		}
		seen = true
		rest = rest[i+1:]
	}
	if !seen {
		return bad()
	}
	return d, nil
}

// IsZero reports whether the duration is unset.
func (d Duration) IsZero() bool { return d == Duration{} }

// AddTo returns t plus d: calendar parts first, then the clock part.
func (d Duration) AddTo(t time.Time) time.Time {
	return t.AddDate(d.Years, d.Months, d.Days).Add(d.Clock)
}

// approx returns d as a time.Duration, counting a year as 365.25 days and a
// month as 1/12 of that: for comparing periods, never for deadlines.
func (d Duration) approx() time.Duration {
	const day = 24 * time.Hour
	year := time.Duration(365.25 * float64(day))
	return time.Duration(d.Years)*year + time.Duration(d.Months)*(year/12) + time.Duration(d.Days)*day + d.Clock
}

// String returns the ISO 8601 form ("P2Y6M", "PT12H"), or "" for zero.
func (d Duration) String() string {
	if d.IsZero() {
		return ""
	}
	var b strings.Builder
	b.WriteByte('P')
	if d.Years != 0 {
		fmt.Fprintf(&b, "%dY", d.Years)
	}
	if d.Months != 0 {
		fmt.Fprintf(&b, "%dM", d.Months)
	}
	if d.Days != 0 {
		fmt.Fprintf(&b, "%dD", d.Days)
	}
	if d.Clock != 0 {
		b.WriteByte('T')
		c := d.Clock
		if h := c / time.Hour; h != 0 {
			fmt.Fprintf(&b, "%dH", h)
			c -= h * time.Hour
		}
		if m := c / time.Minute; m != 0 {
			fmt.Fprintf(&b, "%dM", m)
			c -= m * time.Minute
		}
		if s := c / time.Second; s != 0 {
			fmt.Fprintf(&b, "%dS", s)
		}
	}
	return b.String()
}

// MarshalText encodes the ISO 8601 form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses either form accepted by ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Duration{}
		return nil
	}
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
