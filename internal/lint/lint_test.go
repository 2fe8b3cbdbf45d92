// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the product module's root, two levels above this package.
const repoRoot = "../.."

// goFiles returns the non-test Go files of the product module, grouped by
// directory. The comparison module under bench/ and testdata are skipped.
func goFiles(t *testing.T) map[string][]string {
	t.Helper()
	dirs := map[string][]string{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", ".git", "bench", "node_modules":
				if path != repoRoot {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func parse(t *testing.T, fset *token.FileSet, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPackageDoc checks that every package has exactly one package comment
// and that no file's license header became its package comment.
func TestPackageDoc(t *testing.T) {
	fset := token.NewFileSet()
	for dir, files := range goFiles(t) {
		var withDoc []string
		for _, path := range files {
			f := parse(t, fset, path)
			if f.Doc == nil {
				continue
			}
			text := f.Doc.Text()
			if strings.Contains(text, "SPDX-License-Identifier") || strings.HasPrefix(text, "Copyright") {
				t.Errorf("%s: the license header became the package comment (leave a blank line after it)", path)
				continue
			}
			withDoc = append(withDoc, filepath.Base(path))
		}
		switch len(withDoc) {
		case 0:
			t.Errorf("%s: package has no package comment (put one in doc.go)", dir)
		case 1:
		default:
			t.Errorf("%s: package comment in %d files %v, want exactly one", dir, len(withDoc), withDoc)
		}
	}
}

// TestHouseRules checks call-level rules: no panic in the public transport
// packages, and unix.Sendfile only in datapath and in wire's one sendfile
// helper.
func TestHouseRules(t *testing.T) {
	fset := token.NewFileSet()
	for dir, files := range goFiles(t) {
		rel, _ := filepath.Rel(repoRoot, dir)
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		for _, path := range files {
			f := parse(t, fset, path)
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch fn := call.Fun.(type) {
				case *ast.Ident:
					if fn.Name == "panic" && (top == "wire" || top == "msg") {
						t.Errorf("%s: panic in package %s; return an error instead", fset.Position(call.Pos()), top)
					}
				case *ast.SelectorExpr:
					if x, ok := fn.X.(*ast.Ident); ok && x.Name == "unix" && fn.Sel.Name == "Sendfile" && !sendfileAllowed(rel, path) {
						t.Errorf("%s: unix.Sendfile outside datapath and wire/sendfile_linux.go; use the raw connection's ReadFrom or datapath", fset.Position(call.Pos()))
					}
				}
				return true
			})
		}
	}
}

// sendfileAllowed reports whether the file at path, in directory rel of
// the repository, may call unix.Sendfile: datapath, which measures the
// system call paths, and wire/sendfile_linux.go, whose sendfile at an
// offset saves an open, a seek and a close per range over the standard
// library's ReadFrom (which sends from the file's own offset), and which
// may not import datapath (.golangci.yml: wire imports only the standard
// library and golang.org/x/sys).
func sendfileAllowed(rel, path string) bool {
	rel = filepath.ToSlash(rel)
	return strings.Split(rel, "/")[0] == "datapath" ||
		(rel == "wire" && filepath.Base(path) == "sendfile_linux.go")
}

func TestMain(m *testing.M) {
	if _, err := os.Stat(filepath.Join(repoRoot, "go.mod")); err != nil {
		panic("lint tests must run from internal/lint: " + err.Error())
	}
	os.Exit(m.Run())
}
