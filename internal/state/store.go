// Package state holds the local key-value stores that stateful processors
// use. In the topology each input partition has its own store, backed by a
// compacted changelog topic; outside Kafka a Memory store replaces it.
package state

import "sync"

// Store is the key-value state of one input partition. Writes made while a
// batch is processed become durable only when the batch's transaction
// commits; a store backed by a changelog discards them on abort.
type Store interface {
	Get(key string) (value []byte, ok bool)
	Put(key string, value []byte)
	Delete(key string)
}

// Memory is a Store kept only in memory. It is safe for concurrent use.
type Memory struct {
	mu   sync.Mutex // guards data
	data map[string][]byte
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{data: make(map[string][]byte)} }

// Get returns the value stored under key.
func (m *Memory) Get(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	return v, ok
}

// Put stores value under key.
func (m *Memory) Put(key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = value
}

// Delete removes key.
func (m *Memory) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
}

// Len returns the number of keys.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data)
}
