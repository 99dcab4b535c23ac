package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fieldguard/pii/mask"
)

// scanFinding is one identifier found: its kind and where, never its text.
type scanFinding struct {
	Kind       mask.Kind `json:"kind"`
	Line       int       `json:"line"`
	Column     int       `json:"column"` // in bytes, from 1
	Offset     int       `json:"offset"` // byte offset into the input
	Length     int       `json:"length"` // in bytes
	Confidence float64   `json:"confidence"`
	Refused    bool      `json:"refused"` // the channel must not carry it
}

type scanResult struct {
	Name     string        `json:"name"` // file name, or "-" for standard input
	Findings []scanFinding `json:"findings"`
	Refused  []mask.Kind   `json:"refused"`          // kinds the channel must not carry
	Advice   string        `json:"advice,omitempty"` // where to move the conversation
}

var channels = []mask.Channel{mask.ChannelPublicSocial, mask.ChannelDirectMessage, mask.ChannelEmail,
	mask.ChannelSecureChat, mask.ChannelPhone}

func scanCmd(e *env) *cobra.Command {
	var channel, rulesFile string
	var kinds, regions []string
	var minConf float64
	cmd := &cobra.Command{
		Use:   "scan [files]",
		Short: "Find identifiers in text, and refuse what a channel must not carry",
		Long: `scan reads each file (standard input when none is given, or for "-") as one
message and reports the identifiers mask.Scan finds in it (card numbers,
e-mail addresses, phone numbers, IBANs, national identifiers, IP addresses,
dates of birth, and the kinds of --rules) with their kind and position,
never their text.

The exit code is 3 when a message holds identifiers the --channel must not
carry, as mask.Check decides: public channels carry none; direct messages
and e-mail carry no card or social security numbers; the secure chat and
the phone carry all. CI can run it over agents' canned replies and macros.`,
		Example: `  pii scan --channel public_social replies/*.txt
  echo "call me on +44 20 7946 0958" | pii scan --channel direct_message
  pii scan --json --channel email macros/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := mask.Channel(channel)
			if !slices.Contains(channels, ch) {
				return usageErr("--channel %q: want one of %s", channel, joinChannels())
			}
			opts := &mask.ScanOptions{Regions: regions, MinConfidence: minConf}
			if rulesFile != "" {
				data, err := os.ReadFile(rulesFile)
				if err != nil {
					return usageErr("--rules: %v", err)
				}
				cfg, err := mask.ParseScanConfig(data)
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("--rules %s: %w", rulesFile, err)}
				}
				if opts.Rules, err = mask.NewScanRules(cfg); err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("--rules %s: %w", rulesFile, err)}
				}
			}
			for _, k := range kinds {
				opts.Kinds = append(opts.Kinds, mask.Kind(k))
			}
			if len(args) == 0 {
				args = []string{"-"}
			}
			var results []scanResult
			refused := false
			for _, name := range args {
				text, err := readInput(e, name)
				if err != nil {
					return err
				}
				r := scanText(name, text, ch, opts)
				refused = refused || len(r.Refused) > 0
				results = append(results, r)
			}
			if e.json {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"channel": ch, "results": results}); err != nil {
					return err
				}
			} else {
				printScan(e.stdout, ch, results)
			}
			if refused {
				return findings()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&channel, "channel", string(mask.ChannelPublicSocial), "where the messages go: "+joinChannels())
	cmd.Flags().StringSliceVar(&kinds, "kinds", nil, "report only these kinds (card,email,phone,iban,ssn,ip,dob, ...)")
	cmd.Flags().StringSliceVar(&regions, "region", nil, "region hints (ISO 3166 codes) for phone numbers and national identifiers (default US)")
	cmd.Flags().StringVar(&rulesFile, "rules", "", "a JSON or YAML mask.ScanConfig: your own recognizers, allow list and deny list")
	cmd.Flags().Float64Var(&minConf, "min-confidence", 0, "drop findings below this confidence (default 0.5)")
	return cmd
}

func joinChannels() string {
	s := make([]string, len(channels))
	for i, c := range channels {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func readInput(e *env, name string) (string, error) {
	if name == "-" {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return "", fmt.Errorf("read standard input: %v", err)
		}
		return string(b), nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", usageErr("%s: %v", name, pe.Err)
		}
		return "", err
	}
	return string(b), nil
}

func scanText(name, text string, ch mask.Channel, opts *mask.ScanOptions) scanResult {
	r := scanResult{Name: name, Findings: []scanFinding{}, Refused: []mask.Kind{}}
	var ce *mask.ChannelError
	if err := mask.Check(text, ch, opts); errors.As(err, &ce) {
		r.Refused, r.Advice = ce.Kinds, ce.Advice
	}
	for _, f := range mask.Scan(text, opts) {
		line := 1 + strings.Count(text[:f.Start], "\n")
		col := f.Start - strings.LastIndexByte(text[:f.Start], '\n')
		r.Findings = append(r.Findings, scanFinding{Kind: f.Kind, Line: line, Column: col, Offset: f.Start,
			Length: f.End - f.Start, Confidence: f.Confidence, Refused: slices.Contains(r.Refused, f.Kind)})
	}
	return r
}

func printScan(w io.Writer, ch mask.Channel, results []scanResult) {
	total, refusedMsgs := 0, 0
	for _, r := range results {
		for _, f := range r.Findings {
			verdict := "allowed on " + string(ch)
			if f.Refused {
				verdict = "refused on " + string(ch)
			}
			fmt.Fprintf(w, "%s:%d:%d: %s (%d bytes, confidence %.2f) %s\n", r.Name, f.Line, f.Column, f.Kind, f.Length, f.Confidence, verdict)
		}
		total += len(r.Findings)
		if len(r.Refused) > 0 {
			refusedMsgs++
			kinds := make([]string, len(r.Refused))
			for i, k := range r.Refused {
				kinds[i] = string(k)
			}
			fmt.Fprintf(w, "%s: %s must not carry %s; %s\n", r.Name, ch, strings.Join(kinds, ", "), r.Advice)
		}
	}
	fmt.Fprintf(w, "%d messages scanned, %d findings, %d refused on %s\n", len(results), total, refusedMsgs, ch)
}
