package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal; progress bars are drawn only
// there, so logs and pipes get plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bar is a progress bar that does nothing when stdout is not a terminal.
type bar struct{ p *progressbar.ProgressBar }

func (r *runner) bar(total int64, desc string) bar {
	if !r.tty || total <= 0 {
		return bar{}
	}
	return bar{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(r.stdout),
		progressbar.OptionSetDescription("      "+desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(65_000_000), // 65 ms
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
	)}
}

func (b bar) add(n int64) {
	if b.p != nil {
		_ = b.p.Add64(n)
	}
}

func (b bar) done() {
	if b.p != nil {
		_ = b.p.Finish()
	}
}
