package prereq

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestEveryExecutedProgramIsDeclared finds the programs the project executes on the host (exec
// sites in lab/, src/ and scenarios/, and the Makefile's recipes) and fails for any the
// prerequisites table does not declare: the next missing package is caught here, not by a new
// user 15 minutes into `make lab-up`.
func TestEveryExecutedProgramIsDeclared(t *testing.T) {
	root := repoRoot(t)
	sites := map[string][]string{} // program -> where
	for _, dir := range []string{"lab", "src", "scenarios"} {
		goExecSites(t, filepath.Join(root, dir), root, sites)
	}
	makefileExecSites(t, filepath.Join(root, "Makefile"), sites)

	// Sanity: the scan must see the programs we know are run, or it is scanning nothing.
	for _, known := range []string{"docker", "debootstrap", "iptables", "go", "make", "cc", "tar", "chroot", "ln"} {
		if len(sites[known]) == 0 {
			t.Errorf("the scan found no exec site of %q: the scanner is broken", known)
		}
	}
	var undeclared []string
	for prog, where := range sites {
		if !Declared(prog) {
			sort.Strings(where)
			undeclared = append(undeclared, prog+" (run at "+strings.Join(where, ", ")+")")
		}
	}
	sort.Strings(undeclared)
	for _, u := range undeclared {
		t.Errorf("%s is not declared in lab/internal/prereq's table: add its Debian package", u)
	}
}

// hostProgram reports whether name is a program looked up on the host (not one of ours built
// into the tree, not a path the test itself made).
func hostProgram(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") || strings.Contains(name, "$") {
		return false
	}
	return !strings.Contains(name, "/") || filepath.IsAbs(name)
}

// goExecSites records literal program names passed to os/exec and to the lab's and the
// scenarios' runners (Run/Output/RunStdin(ctx, "prog", ...)).
func goExecSites(t *testing.T, dir, root string, sites map[string][]string) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if prog, ok := programArg(sel, call.Args); ok && hostProgram(prog) {
				sites[prog] = append(sites[prog], rel+":"+strconv.Itoa(fset.Position(call.Pos()).Line))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", dir, err)
	}
}

// programArg returns the literal program name of an exec-like call.
func programArg(sel *ast.SelectorExpr, args []ast.Expr) (string, bool) {
	idx := -1
	if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "exec" {
		switch sel.Sel.Name {
		case "Command", "LookPath":
			idx = 0
		case "CommandContext":
			idx = 1
		}
	} else {
		switch sel.Sel.Name {
		case "Run", "Output":
			idx = 1
		case "RunStdin":
			idx = 2
		}
	}
	if idx < 0 || len(args) <= idx {
		return "", false
	}
	lit, ok := args[idx].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

var makeAssign = regexp.MustCompile(`^([A-Za-z0-9_]+)\s*(?:\?=|:=|=)\s*(.*)$`)

// makefileExecSites records the first word of every simple command in the Makefile's recipes,
// after expanding the Makefile's own variables.
func makefileExecSites(t *testing.T, path string, sites map[string][]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"MAKE": "make", "CURDIR": ".", "MAKEFILE_LIST": "Makefile"}
	var recipes []string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if strings.HasPrefix(line, "\t") {
			recipes = append(recipes, strings.TrimSpace(line))
			continue
		}
		if m := makeAssign.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "export") {
			vars[m[1]] = m[2]
		}
	}
	for i, r := range recipes {
		r = strings.TrimLeft(r, "@-+")
		for _, seg := range shellSegments(expandMake(r, vars, 0)) {
			if prog := commandWord(seg); hostProgram(prog) {
				sites[prog] = append(sites[prog], "Makefile recipe "+strconv.Itoa(i+1))
			}
		}
	}
	if len(recipes) == 0 {
		t.Fatal("no recipes found in the Makefile")
	}
}

var makeRef = regexp.MustCompile(`\$\(([A-Za-z0-9_]+)\)`)

// expandMake substitutes $(VAR) references; $(shell ...) and $$ are left for the shell lexer.
func expandMake(s string, vars map[string]string, depth int) string {
	if depth > 10 {
		return s
	}
	out := makeRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if v, ok := vars[name]; ok {
			return expandMake(v, vars, depth+1)
		}
		return "" // automatic or environment variables: not programs
	})
	return strings.ReplaceAll(out, "$$", "$")
}

// shellSegments splits a shell line into simple commands: at ; & | && || { } ( ) and around
// $( ... ) substitutions, respecting quotes. Each segment is its list of words.
func shellSegments(s string) [][]string {
	var segs [][]string
	var words []string
	var word strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	flushSeg := func() {
		flushWord()
		if len(words) > 0 {
			segs = append(segs, words)
		}
		words = nil
	}
	quote := byte(0)
	// The lexer state outside each open $( ... ): the substitution is a command of its own
	// and, in the outer command, part of a word (written as "$", which is no program name).
	type frame struct {
		quote  byte
		words  []string
		word   string
		inWord bool
	}
	var outer []frame
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			// A command substitution is lexed as unquoted shell, even inside "...".
			outer = append(outer, frame{quote, words, word.String(), inWord})
			words, inWord, quote = nil, false, 0
			word.Reset()
			i++
		case c == ')' && len(outer) > 0 && quote == 0:
			flushSeg()
			f := outer[len(outer)-1]
			outer = outer[:len(outer)-1]
			quote, words, inWord = f.quote, f.words, true
			word.WriteString(f.word + "$")
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
			inWord = true
		case c == '>' || c == '<':
			// A redirection (2>&1, >/dev/null, < file) is one word; commandWord drops it.
			word.WriteByte(c)
			inWord = true
			for i+1 < len(s) && (s[i+1] == '&' || s[i+1] == '>' || s[i+1] >= '0' && s[i+1] <= '9') {
				i++
				word.WriteByte(s[i])
			}
		case c == ' ' || c == '\t':
			flushWord()
		case strings.IndexByte(";&|{}()`", c) >= 0:
			flushSeg()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	flushSeg()
	return segs
}

var shellWords = map[string]bool{
	"for": true, "in": true, "do": true, "done": true, "if": true, "then": true, "else": true, "elif": true,
	"fi": true, "while": true, "until": true, "case": true, "esac": true, "!": true,
	"test": true, "[": true, "echo": true, "printf": true, "command": true, "exit": true, "true": true,
	"false": true, "cd": true, "set": true, "export": true, "read": true, "shift": true, "wait": true,
	"trap": true, "eval": true, ":": true,
}

// commandWord is the program a simple command runs: the first word after keywords and
// variable assignments; empty for builtins.
func commandWord(words []string) string {
	skipNext := false
	for _, w := range words {
		switch {
		case skipNext:
			skipNext = false
		case strings.ContainsAny(w, "<>"):
			// a redirection; a bare operator takes the next word as its target
			skipNext = strings.TrimLeft(w, "0123456789<>&") == ""
		case w == "shell":
			continue // make's $(shell ...): the next word is the program
		case w == "for" || w == "case":
			return "" // `for x in ...`: the words are data
		case w == "do" || w == "then" || w == "else" || w == "!":
			continue
		case strings.Contains(w, "=") && !strings.HasPrefix(w, "="):
			continue // VAR=value prefix
		case shellWords[w]:
			return ""
		default:
			return w
		}
	}
	return ""
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
