package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes is the largest config file read. The YAML library checks
// each mapping for repeated keys in time that grows with the square of its
// keys, so a large file could take seconds to read; a config file is a few
// kilobytes, and this limit keeps the worst case short.
const MaxFileBytes = 64 << 10

// MaxAliasValues is how many values the aliases of a config file may add
// to it when they are expanded: a few kilobytes of nested aliases (an
// "alias bomb") would otherwise expand to billions.
const MaxAliasValues = 10000

// readFile reads the config file as the settings it holds. It is parsed
// here rather than by viper so that an error says the line and the reason
// (viper says only that the file is not valid YAML).
func readFile(file string) (map[string]any, error) {
	f, err := openRegular(file)
	if err != nil {
		return nil, fileError(file, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fileError(file, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: config file %s is larger than %d KiB, which no configuration needs", ErrConfig, file, MaxFileBytes>>10)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if err := checkAliases(&doc); err != nil {
		return nil, fmt.Errorf("%w: config file %s: %v", ErrConfig, file, err)
	}
	if err := checkCase(&doc, ""); err != nil {
		return nil, fmt.Errorf("%w: config file %s: %v", ErrConfig, file, err)
	}
	settings := map[string]any{}
	if len(doc.Content) == 0 {
		return settings, nil // empty, or comments only
	}
	if top := doc.Content[0]; top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: config file %s: line %d: the file must be a mapping of sections such as \"source\" and \"feeds\"", ErrConfig, file, top.Line)
	}
	if err := doc.Decode(&settings); err != nil {
		return nil, yamlError(file, err)
	}
	return settings, nil
}

// fileError says why a config file could not be read, without Go's
// "open NAME:" prefix, since the message names the file already.
func fileError(file string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%w: config file %s: %v", ErrConfig, file, err)
}

// yamlError is the YAML library's own reason, with its line, on one line:
// "line 4: mapping key "url" already defined at line 3".
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	return fmt.Errorf("%w: config file %s is not valid YAML: %s", ErrConfig, file, msg)
}

// checkAliases refuses a document whose aliases would add more than
// MaxAliasValues values when expanded. The walk stops as soon as they do,
// so it takes no longer than reading that many values.
func checkAliases(doc *yaml.Node) error {
	added := 0
	var walk func(n *yaml.Node, aliased bool) *yaml.Node
	walk = func(n *yaml.Node, aliased bool) *yaml.Node {
		if aliased {
			if added++; added > MaxAliasValues {
				return n
			}
		}
		if n.Kind == yaml.AliasNode {
			if over := walk(n.Alias, true); over != nil {
				return n // the line of the outermost alias, the one written
			}
			return nil
		}
		for _, c := range n.Content {
			if over := walk(c, aliased); over != nil {
				return over
			}
		}
		return nil
	}
	if over := walk(doc, false); over != nil {
		return fmt.Errorf("line %d: the aliases add more than %d values to the file once expanded (an alias bomb?)", over.Line, MaxAliasValues)
	}
	return nil
}

// checkCase refuses two keys of one mapping that differ only in case
// (feeds Bay and bay): viper folds keys to lower case, and one of them
// would silently replace the other. Aliases are not followed: what they
// point to is checked where it is written.
func checkCase(n *yaml.Node, path string) error {
	if n.Kind == yaml.MappingNode {
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			folded := strings.ToLower(key.Value)
			if first, ok := seen[folded]; ok && first.Value != key.Value {
				return fmt.Errorf("%s%s (line %d) and %s%s (line %d) differ only in case, and keys are not case-sensitive: rename or remove one",
					path, first.Value, first.Line, path, key.Value, key.Line)
			}
			seen[folded] = key
			if err := checkCase(n.Content[i+1], path+key.Value+"."); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range n.Content {
		if err := checkCase(c, path); err != nil {
			return err
		}
	}
	return nil
}

// errNotRegular is a config or .env file that is a named pipe, a device or
// a folder: reading a pipe with no writer would wait for ever.
var errNotRegular = errors.New("is not a regular file (a named pipe, device or folder); only regular files are read")

// openRegular opens a file to read only if it is a regular file (or a
// symbolic link to one).
func openRegular(file string) (*os.File, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return os.Open(file)
}
