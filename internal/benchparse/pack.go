// Package benchparse measures MIME parsing throughput over a mail corpus
// for `make bench`. The corpus is first written to a pack, one file of
// message bytes and one JSON index, so that mailtriage's parser, enmime and
// the Python and Node peers all parse exactly the same bytes. Each of them
// then parses the whole pack several times in one process by the rule in
// Limits and reports the median pass.
package benchparse

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mailtriage/connectors/files"
)

// Names of the two files of a pack folder.
const (
	IndexFile = "index.json"
	DataFile  = "messages.bin"
)

// Index describes the messages of a pack. Every runner, in Go, Python and
// JavaScript, reads this JSON form.
type Index struct {
	// Source is the corpus folder the pack was read from.
	Source string `json:"source"`
	// Selection names the rule that chose the messages.
	Selection string `json:"selection"`
	// Bytes is the sum of the message sizes.
	Bytes int64 `json:"bytes"`
	// Messages lists the messages in the order of DataFile.
	Messages []Entry `json:"messages"`
}

// Entry is one message of a pack: Size bytes of DataFile from Offset.
type Entry struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Size   int    `json:"size"`
}

// PackOptions choose what WritePack reads.
type PackOptions struct {
	// Corpus is the folder to read. Its files are chosen as the import and
	// the demo choose them (see connectors/files): hidden entries and files
	// named README*, LICENSE* or COPYING* are skipped, an mbox file gives
	// one message per entry and every other file is one message.
	Corpus string
	// Listed, when set, keeps only the files named in this list, one path
	// relative to Corpus per line, such as the corpus MESSAGES file.
	Listed string
}

// WritePack reads the corpus and writes IndexFile and DataFile into dir,
// which must exist.
func WritePack(ctx context.Context, opts PackOptions, dir string) (*Index, error) {
	keep, err := readListed(opts.Listed)
	if err != nil {
		return nil, err
	}

	data, err := os.Create(filepath.Join(dir, DataFile))
	if err != nil {
		return nil, fmt.Errorf("creating the pack data file: %w", err)
	}
	defer data.Close()

	index := &Index{Source: opts.Corpus, Selection: "every file a folder import reads"}
	if keep != nil {
		index.Selection = "the files listed in " + filepath.Base(opts.Listed)
	}
	err = files.Walk(ctx, []string{opts.Corpus}, func(item files.Item) error {
		name := relativeName(opts.Corpus, item.Name)
		if keep != nil && !keep[fileOf(name)] {
			return nil
		}
		if _, err := data.Write(item.Raw); err != nil {
			return fmt.Errorf("writing %s to the pack: %w", name, err)
		}
		index.Messages = append(index.Messages, Entry{Name: name, Offset: index.Bytes, Size: len(item.Raw)})
		index.Bytes += int64(len(item.Raw))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(index.Messages) == 0 {
		return nil, fmt.Errorf("no messages found under %s (selection: %s); pass a folder that contains mail", opts.Corpus, index.Selection)
	}
	if err := data.Close(); err != nil {
		return nil, fmt.Errorf("closing the pack data file: %w", err)
	}

	encoded, err := json.MarshalIndent(index, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encoding the pack index: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFile), encoded, 0o644); err != nil {
		return nil, fmt.Errorf("writing the pack index: %w", err)
	}
	return index, nil
}

// readListed returns the set of names in the list file, or nil when path
// is empty.
func readListed(path string) (map[string]bool, error) {
	if path == "" {
		return nil, nil
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the message list: %w", err)
	}
	keep := map[string]bool{}
	for _, name := range strings.Fields(string(content)) {
		keep[name] = true
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("message list %s is empty; pass a file with one corpus path per line", path)
	}
	return keep, nil
}

// relativeName returns the slash-separated path of name below corpus, with
// the #N suffix of an mbox message kept.
func relativeName(corpus, name string) string {
	if rel, err := filepath.Rel(corpus, name); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(name)
}

// fileOf returns the file part of an item name, without the #N suffix
// that the files of an mbox message carry.
func fileOf(name string) string {
	file, number, ok := strings.Cut(name, "#")
	if !ok || number == "" || strings.Trim(number, "0123456789") != "" {
		return name
	}
	return file
}

// Pack is a pack loaded into memory.
type Pack struct {
	Index
	// Raw contains the bytes of each message, Raw[i] for Messages[i].
	Raw [][]byte
}

// ReadPack loads the pack in dir and checks that the index matches the data.
func ReadPack(dir string) (*Pack, error) {
	encoded, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return nil, fmt.Errorf("reading the pack index: %w", err)
	}
	var pack Pack
	if err := json.Unmarshal(encoded, &pack.Index); err != nil {
		return nil, fmt.Errorf("decoding the pack index %s: %w", filepath.Join(dir, IndexFile), err)
	}
	data, err := os.ReadFile(filepath.Join(dir, DataFile))
	if err != nil {
		return nil, fmt.Errorf("reading the pack data: %w", err)
	}
	if int64(len(data)) != pack.Bytes {
		return nil, fmt.Errorf("invalid pack: data file %s contains %d bytes, but the index lists %d; write the pack again", filepath.Join(dir, DataFile), len(data), pack.Bytes)
	}

	pack.Raw = make([][]byte, len(pack.Messages))
	for i, m := range pack.Messages {
		end := m.Offset + int64(m.Size)
		if m.Offset < 0 || m.Size < 0 || end > int64(len(data)) {
			return nil, fmt.Errorf("pack index entry %s lies outside the data file; write the pack again", m.Name)
		}
		pack.Raw[i] = data[m.Offset:end:end]
	}
	return &pack, nil
}
