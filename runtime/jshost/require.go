package jshost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// CommonJS: every module (the entry too) runs inside this wrapper, so
// top-level declarations stay local to it and it gets exports, require,
// module, __filename and __dirname as in Node.js.
const (
	wrapperHead = "(function (exports, require, module, __filename, __dirname) {"
	wrapperTail = "\n})"
)

// compileModule compiles one CommonJS module. name is what stack traces
// and error positions show.
func compileModule(name string, src []byte) (*goja.Program, error) {
	text := string(src)
	if strings.HasPrefix(text, "#!") {
		// Keep the line, drop the interpreter: positions stay right.
		text = "//" + text[2:]
	}
	prg, err := goja.Compile(name, wrapperHead+text+wrapperTail, false)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", unwrapPosition(err))
	}
	return prg, nil
}

// firstLineCol finds the column of a parser error on the first line, which
// counts the wrapper's head.
var firstLineCol = regexp.MustCompile(`Line 1:(\d+) `)

// unwrapPosition corrects a syntax error's first-line column so that it
// points into the plugin's own text.
func unwrapPosition(err error) error {
	var se *goja.CompilerSyntaxError
	if !errors.As(err, &se) {
		return err
	}
	msg := firstLineCol.ReplaceAllStringFunc(se.Message, func(m string) string {
		col, convErr := strconv.Atoi(firstLineCol.FindStringSubmatch(m)[1])
		if convErr != nil || col <= len(wrapperHead) {
			return m
		}
		return fmt.Sprintf("Line 1:%d ", col-len(wrapperHead))
	})
	if msg == se.Message {
		return err
	}
	return fmt.Errorf("SyntaxError: %s", msg)
}

// modName is how a module file is named in positions and stacks: relative
// to the scripts folder ("echo.js", "shop/lib/util.js"), never revealing
// the host's file system.
func (h *host) modName(path string) string {
	if h.root != "" {
		if rel, err := filepath.Rel(filepath.Dir(h.root), path); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(path)
}

// Codes of require errors, as Node.js names them.
const (
	codeModuleNotFound = "MODULE_NOT_FOUND"
	codeAccessDenied   = "ERR_ACCESS_DENIED"
)

// runEntry runs the entry module. Loop only.
func (h *host) runEntry(prg *goja.Program) error {
	path, err := filepath.Abs(h.spec.Entry)
	if err != nil {
		return fmt.Errorf("entry: %w", err)
	}
	real := path
	if h.root != "" {
		if real, err = filepath.EvalSymlinks(path); err != nil {
			return fmt.Errorf("entry: %w", err)
		}
	}
	if _, err := h.runModule(prg, path, real); err != nil {
		return err
	}
	return nil
}

// runModule runs a compiled module and returns its module object; it is
// cached under its real path before it runs, so cycles see the partial
// exports as in Node.js. Loop only.
func (h *host) runModule(prg *goja.Program, path, real string) (*goja.Object, error) {
	fnv, err := h.rt.RunProgram(prg)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		return nil, fmt.Errorf("module %s: wrapper is not a function", h.modName(path))
	}
	module := h.rt.NewObject()
	exports := h.rt.NewObject()
	name := h.modName(path)
	_ = module.Set("exports", exports)
	_ = module.Set("id", name)
	_ = module.Set("filename", name)
	_ = module.Set("loaded", false)
	h.modules[real] = module
	dir := filepath.Dir(path)
	_, err = fn(exports, exports, h.requireFunc(dir), module, h.rt.ToValue(name), h.rt.ToValue(filepath.ToSlash(filepath.Dir(name))))
	if err != nil {
		delete(h.modules, real)
		return nil, err
	}
	_ = module.Set("loaded", true)
	return module, nil
}

// requireFunc is the require of a module in dir. Single-file plugins get a
// require that refuses everything; folder plugins resolve relative paths to
// .js and .json files inside their folder, and nothing else.
func (h *host) requireFunc(dir string) goja.Value {
	return h.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		arg := call.Argument(0)
		if !isString(arg) || arg.String() == "" {
			panic(h.typeError("require: the module id must be a non-empty string, got %s", h.inspect(arg)))
		}
		id := arg.String()
		if h.root == "" {
			h.throwRequire(codeModuleNotFound, "Cannot find module '%s': a single-file plugin cannot require modules; make it a folder with index.js and the modules beside it", id)
		}
		if filepath.IsAbs(id) || strings.HasPrefix(id, "/") || strings.HasPrefix(id, `\`) {
			h.throwRequire(codeAccessDenied, "Cannot require '%s': absolute paths are not allowed, require files of the plugin folder by relative path ('./lib/util')", id)
		}
		if id != "." && id != ".." && !strings.HasPrefix(id, "./") && !strings.HasPrefix(id, "../") {
			h.throwRequire(codeModuleNotFound, "Cannot find module '%s': only files of the plugin folder can be required, by relative path ('./%s')", id, id)
		}
		target := filepath.Join(dir, filepath.FromSlash(id))
		if !inside(h.root, target) {
			h.throwRequire(codeAccessDenied, "Cannot require '%s': it is outside the plugin folder", id)
		}
		path, err := h.resolve(target)
		if err != nil {
			h.throwRequire(codeModuleNotFound, "Cannot find module '%s': %v", id, err)
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			h.throwRequire(codeModuleNotFound, "Cannot find module '%s': %v", id, err)
		}
		if !inside(h.realRoot, real) {
			h.throwRequire(codeAccessDenied, "Cannot require '%s': it links outside the plugin folder", id)
		}
		if m, ok := h.modules[real]; ok {
			return m.Get("exports")
		}
		m, err := h.load(path, real)
		if err != nil {
			h.rethrow(err)
		}
		return m.Get("exports")
	})
}

// resolve finds the file for a module path the way Node.js does for
// relative ids: the path itself, then with .js and .json, then index.js and
// index.json inside it. Only .js and .json files qualify.
func (h *host) resolve(target string) (string, error) {
	candidates := []string{target, target + ".js", target + ".json",
		filepath.Join(target, "index.js"), filepath.Join(target, "index.json")}
	for i, c := range candidates {
		st, err := os.Stat(c)
		if err != nil || st.IsDir() {
			continue
		}
		if ext := filepath.Ext(c); ext != ".js" && ext != ".json" {
			if i == 0 {
				return "", fmt.Errorf("only .js and .json files can be required, not %s", filepath.Base(c))
			}
			continue
		}
		return c, nil
	}
	return "", errors.New("no such .js or .json file in the plugin folder")
}

// load reads, compiles and runs a module file (JSON files are parsed).
// Loop only.
func (h *host) load(path, real string) (*goja.Object, error) {
	src, err := os.ReadFile(real)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, h.requireError(codeModuleNotFound, "Cannot find module '%s'", h.modName(path))
		}
		return nil, h.requireError(codeModuleNotFound, "Cannot read module '%s': %v", h.modName(path), err)
	}
	if filepath.Ext(path) == ".json" {
		v, err := h.parseJSON(src)
		if err != nil {
			rethrowIfUncatchable(err)
			return nil, h.requireError("ERR_INVALID_JSON", "%s: %s", h.modName(path), h.errText(err))
		}
		module := h.rt.NewObject()
		_ = module.Set("exports", v)
		_ = module.Set("loaded", true)
		h.modules[real] = module
		return module, nil
	}
	prg, err := compileModule(h.modName(path), src)
	if err != nil {
		return nil, h.requireError("ERR_SYNTAX", "%s", strings.TrimPrefix(err.Error(), "compile: "))
	}
	return h.runModule(prg, path, real)
}

// requireError is a require failure as a thrown JavaScript Error with a
// Node.js-style code.
func (h *host) requireError(code, format string, args ...any) error {
	o := h.newError(h.js.errorCtor, "", fmt.Sprintf(format, args...), "code", code)
	return &requireFailure{v: o}
}

// requireFailure carries a JavaScript error value to throw.
type requireFailure struct{ v *goja.Object }

func (e *requireFailure) Error() string { return e.v.String() }

func (h *host) throwRequire(code, format string, args ...any) {
	panic(h.requireError(code, format, args...).(*requireFailure).v)
}

// inside reports whether path is root or below it, lexically.
func inside(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}
