// Package vectors finds and reads the protocol's known-answer vectors,
// ../shared/protocol/vectors.json beside the module root, for the tests of
// every package that checks them.
package vectors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Path returns the vectors file's path: ../shared/protocol/vectors.json from
// the nearest directory above the working directory that holds go.mod.
func Path() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "protocol", "vectors.json"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Load decodes the vectors file into v. A missing file is an error, never a
// reason to skip: the vectors are the only independent check of the bytes.
func Load(v any) (string, error) {
	path, err := Path()
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return path, fmt.Errorf("protocol vectors are required (CI puts shared/ beside the checkout): %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return path, fmt.Errorf("%s: %w", path, err)
	}
	return path, nil
}
