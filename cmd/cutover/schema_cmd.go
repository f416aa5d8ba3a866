package main

import (
	"fmt"
	"io"

	"github.com/cutover/cutover/configs"
)

// cmdSchema prints the configuration's JSON Schema, or with --line the
// comment that points a YAML editor at the published copy.
func cmdSchema(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("schema", "schema [--line]",
		"Print the JSON Schema (draft 2020-12) of the config file. Editors that use the\nYAML language server validate and complete a config whose first line is\n\n  "+configs.SchemaLine+"\n\nor, for a saved copy (cutover schema > cutover.schema.json):\n\n  # yaml-language-server: $schema=./cutover.schema.json", stderr)
	line := fs.Bool("line", false, "print only the yaml-language-server comment naming the published schema")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *line {
		fmt.Fprintln(stdout, configs.SchemaLine)
		return exitOK
	}
	if _, err := stdout.Write(configs.Schema); err != nil {
		fmt.Fprintln(stderr, "cutover schema:", err)
		return exitError
	}
	return exitOK
}
