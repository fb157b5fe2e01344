package wasmbin

import "fmt"

// Import is one entry of a module's import section.
type Import struct {
	Module, Name string
	Kind         byte // ImportFunc, ImportTable, ImportMemory, ImportGlobal or ImportTag
}

// Import kinds.
const (
	ImportFunc   = 0x00
	ImportTable  = 0x01
	ImportMemory = 0x02
	ImportGlobal = 0x03
	ImportTag    = 0x04
)

// Imports returns the imports of a module, in order, after checking the
// framing and order of its sections; its errors wrap ErrNotWasm.
func Imports(wasm []byte) ([]Import, error) {
	secs, err := parse(wasm)
	if err != nil {
		return nil, err
	}
	for _, s := range secs {
		if s.id != secImport {
			continue
		}
		r := &reader{b: s.body}
		imps := r.imports()
		if r.err == nil && r.more() {
			r.fail("%d bytes after the section's contents", len(r.b)-r.off)
		}
		if r.err != nil {
			return nil, fmt.Errorf("%w: import section: %w", ErrNotWasm, r.err)
		}
		return imps, nil
	}
	return nil, nil
}

// imports reads the entries of an import section.
func (r *reader) imports() []Import {
	var out []Import
	for n := r.count(); n > 0 && r.err == nil; n-- {
		imp := Import{Module: string(r.name()), Name: string(r.name()), Kind: r.byte()}
		switch imp.Kind {
		case ImportFunc: // type index
			r.u32()
		case ImportTable:
			r.refType()
			r.limits()
		case ImportMemory:
			r.limits()
		case ImportGlobal: // value type, mutability
			r.valType()
			r.byte()
		case ImportTag: // attribute, type index
			r.byte()
			r.u32()
		default:
			r.fail("import %s.%s: unknown kind %d", imp.Module, imp.Name, imp.Kind)
		}
		if r.err == nil {
			out = append(out, imp)
		}
	}
	return out
}
