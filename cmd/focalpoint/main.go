// Command focalpoint runs a focal-point node and the tools around it: the CLI
// for officers, the auditor's offline checks, the dev PKI and the demo.
package main

import (
	"os"

	"github.com/focalpoint-gateway/focalpoint/pkg/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
