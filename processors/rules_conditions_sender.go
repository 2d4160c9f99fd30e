package processors

import (
	"fmt"
	"strings"
)

// senderAddressCondition holds when the From or MAIL FROM address, in
// lower case and with or without its +subaddress, is one of addresses.
type senderAddressCondition struct {
	addresses []string // lower case, each with exactly one '@'
}

func (c *senderAddressCondition) String() string {
	return fmt.Sprintf("from_address in %d addresses", len(c.addresses))
}

// match names only the domain of the matched address, so that decision
// records and logs carry no mailbox address.
func (c *senderAddressCondition) match(in *matchInput) (bool, string) {
	for _, a := range c.addresses {
		if in.senderAddresses[a] {
			return true, fmt.Sprintf("from_address at %q", a[strings.LastIndexByte(a, '@')+1:])
		}
	}
	return false, ""
}

// senderDomainCondition holds when the domain of the From or MAIL FROM
// address is one of domains or a subdomain of one: "example.com" matches
// mail from example.com and from mail.example.com, not from
// badexample.com.
type senderDomainCondition struct {
	domains []string // lower case, without a leading or trailing dot
}

func (c *senderDomainCondition) String() string {
	return fmt.Sprintf("from_domain in %q", c.domains)
}

func (c *senderDomainCondition) match(in *matchInput) (bool, string) {
	for _, want := range c.domains {
		for _, got := range in.senderDomains {
			if got == want || strings.HasSuffix(got, "."+want) {
				return true, fmt.Sprintf("from_domain %q", want)
			}
		}
	}
	return false, ""
}
