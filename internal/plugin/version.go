package plugin

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// Version is kubectl-dilo's version, set when a release is built:
//
//	go build -ldflags "-X github.com/dilo-operator/dilo/internal/plugin.Version=v0.1.0" ./cmd/kubectl-dilo
var Version = "dev"

func newVersionCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print kubectl-dilo's version and the DiLO API it speaks",
		Example: "  kubectl dilo version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(c.out, "kubectl-dilo %s (API %s, %s, %s/%s)\n",
				Version, dilov1.GroupVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
