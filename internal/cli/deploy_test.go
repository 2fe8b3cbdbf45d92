// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"os"
	"testing"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/pollen-dev/pollen/internal/config"
)

// TestDeployConfigs checks that the example config files under deploy/
// name only flags that exist and give them values they parse.
func TestDeployConfigs(t *testing.T) {
	files := map[string]config.File{}
	var err error
	if files["systemd"], err = config.Load("../../deploy/systemd/pollen.yaml"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../deploy/k8s/pollen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "ConfigMap" {
			if files["k8s"], err = config.Parse([]byte(doc.Data["pollen.yaml"])); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmds := map[string]func() *cobra.Command{"scheduler": newSchedulerCmd, "daemon": newDaemonCmd}
	for name, f := range files {
		if len(f) == 0 {
			t.Errorf("%s: no config found", name)
		}
		for section := range f {
			newCmd, ok := cmds[section]
			if !ok {
				t.Errorf("%s: section %q names no service command", name, section)
				continue
			}
			if err := config.Apply(newCmd().Flags(), section, f, func(string) string { return "" }); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}
