package schemas

import (
	"fmt"
	"reflect"
	"time"
)

// diffValues lists the paths where got differs from want, walking structs,
// pointers, slices and maps so a failure names the field. Times must be
// equal instants in the same location.
func diffValues(want, got any) []string {
	var diffs []string
	walkDiff("", reflect.ValueOf(want), reflect.ValueOf(got), &diffs)
	return diffs
}

var timeType = reflect.TypeFor[time.Time]()

func walkDiff(path string, want, got reflect.Value, diffs *[]string) {
	report := func() {
		*diffs = append(*diffs, fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface()))
	}

	if want.Type() == timeType {
		w, g := want.Interface().(time.Time), got.Interface().(time.Time)
		if !w.Equal(g) || w.Location().String() != g.Location().String() {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
		return
	}

	switch want.Kind() {
	case reflect.Pointer:
		if want.IsNil() || got.IsNil() {
			if want.IsNil() != got.IsNil() {
				report()
			}
			return
		}
		walkDiff(path, want.Elem(), got.Elem(), diffs)
	case reflect.Struct:
		for i := range want.NumField() {
			walkDiff(path+"."+want.Type().Field(i).Name, want.Field(i), got.Field(i), diffs)
		}
	case reflect.Slice:
		if want.IsNil() != got.IsNil() || want.Len() != got.Len() {
			report()
			return
		}
		for i := range want.Len() {
			walkDiff(fmt.Sprintf("%s[%d]", path, i), want.Index(i), got.Index(i), diffs)
		}
	case reflect.Map:
		if want.IsNil() != got.IsNil() || !reflect.DeepEqual(want.Interface(), got.Interface()) {
			report()
		}
	default:
		if !reflect.DeepEqual(want.Interface(), got.Interface()) {
			report()
		}
	}
}

// millisUTC is what a time looks like after an Avro timestamp-millis round
// trip: truncated to the millisecond, in UTC.
func millisUTC(t time.Time) time.Time {
	return t.Truncate(time.Millisecond).UTC()
}
