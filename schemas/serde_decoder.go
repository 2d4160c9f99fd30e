package schemas

import (
	"errors"

	"github.com/twmb/franz-go/pkg/sr"
)

// NewRegistryDecoder returns a Serde for consumers such as the sinks. It
// decodes both framings like any Serde and looks up the schema ID of a
// Confluent-framed record in client's registry on first sight. Unlike
// NewConfluent it registers nothing, so read-only registry credentials
// are enough. It has no schema ID to write with, so its Encode fails with
// ErrNotRegistered: encode with NewSingleObject or NewConfluent instead.
func NewRegistryDecoder(client *sr.Client) (*Serde, error) {
	if client == nil {
		return nil, errors.New("schemas: NewRegistryDecoder needs a schema registry client: create one with NewRegistryClient, or use NewSingleObject")
	}
	return &Serde{
		registry:   client,
		subjectFor: TopicNameStrategy,
		ids:        map[Binding]uint32{},
		byID:       map[uint32]*contract{},
	}, nil
}
