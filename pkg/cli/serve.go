package cli

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/focalpoint-gateway/focalpoint/pkg/config"
	"github.com/focalpoint-gateway/focalpoint/pkg/node"
)

func newServeCmd() *cobra.Command {
	var cf configFlag
	c := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run a node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			n, err := node.New(cmd.Context(), cfg, node.Options{Logger: log})
			if err != nil {
				return err
			}
			return n.Run(cmd.Context())
		},
	}
	cf.register(c)
	return c
}

// newLogger logs JSON unless the format is set to text, or left unset and the
// output is a terminal.
func newLogger(cfg *config.Config, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
