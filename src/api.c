/* SPDX-License-Identifier: MIT */
/* Small public helpers: batches, configuration, errors, version. */
#define _GNU_SOURCE
/* This file defines the exported crew_batch_push: no inline copy here. */
#define CREW__DEFINE_API
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* pin took the place of reserved[0], spin_us the padding after it (or,
 * with 4-byte pointers, reserved[1]), slice_us reserved[1] (reserved[2]):
 * the struct keeps its size. */
_Static_assert(sizeof(crew_config) ==
    offsetof(crew_config, pin) + 4 * sizeof(void *),
    "crew_config changed size");

/* The exported crew_batch_push (crew.h also has an inline-only copy). */
CREW_API int
crew_batch_push(crew_batch *b, crew_task *t)
{
	CREW__BATCH_PUSH_BODY(b, t);
}

CREW_API int
crew_batch_append(crew_batch *dst, crew_batch *src)
{
	/* A batch appended to itself would become a cycle, then empty. */
	if (dst == NULL || src == NULL || dst == src ||
	    (dst->len != 0 && dst->tail == NULL) ||
	    (src->len != 0 && (src->head == NULL || src->tail == NULL)))
		return CREW_EINVAL;
	if (src->len == 0)
		return 0;
	if (dst->len == 0)
		dst->head = src->head;
	else
		dst->tail->next = src->head;
	dst->tail = src->tail;
	dst->len += src->len;
	src->head = src->tail = NULL;
	src->len = 0;
	return 0;
}

CREW_API int
crew_config_init(crew_config *cfg)
{
	if (cfg == NULL)
		return CREW_EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	cfg->name_prefix = "crew-";
	/* CREW_PIN: none, cores, pus or numa; anything else is none. */
	if (!crew__pin_parse(getenv("CREW_PIN"), &cfg->pin))
		cfg->pin = CREW_PIN_NONE;
	/* CREW_SPIN_US: decimal microseconds; anything else is the default. */
	if (!crew__spin_parse(getenv("CREW_SPIN_US"), &cfg->spin_us))
		cfg->spin_us = CREW_SPIN_US_DEFAULT;
	/* CREW_SLICE_US: auto, keep or decimal microseconds. */
	if (!crew__slice_parse(getenv("CREW_SLICE_US"), &cfg->slice_us))
		cfg->slice_us = CREW_SLICE_US_AUTO;
	return 0;
}

bool
crew__slice_parse(const char *s, unsigned *out)
{
	unsigned v;

	if (s != NULL && strcasecmp(s, "auto") == 0) {
		*out = CREW_SLICE_US_AUTO;
		return true;
	}
	if (s != NULL && strcasecmp(s, "keep") == 0) {
		*out = CREW_SLICE_US_KEEP;
		return true;
	}
	/* the same digits-only syntax as CREW_SPIN_US (whose maximum is
	 * larger), then this range */
	if (!crew__spin_parse(s, &v) || v < CREW_SLICE_US_MIN ||
	    v > CREW_SLICE_US_MAX)
		return false;
	*out = v;
	return true;
}

bool
crew__spin_parse(const char *s, unsigned *out)
{
	unsigned long v = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > CREW_SPIN_US_MAX)
			return false;
	}
	*out = (unsigned)v;
	return true;
}

static const char *const pin_names[] = { "none", "cores", "pus", "numa" };

bool
crew__pin_parse(const char *s, enum crew_pin *out)
{
	for (size_t i = 0; s != NULL && i < sizeof(pin_names) /
	    sizeof(pin_names[0]); i++) {
		if (strcasecmp(s, pin_names[i]) == 0) {
			*out = (enum crew_pin)i;
			return true;
		}
	}
	return false;
}

const char *
crew__pin_name(enum crew_pin mode)
{
	return (unsigned)mode < sizeof(pin_names) / sizeof(pin_names[0]) ?
	    pin_names[mode] : "invalid";
}

CREW_API const char *
crew_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CREW__ERRNO_TEXT(name, value, text) case CREW_##name: return text;
	CREW_ERRNO_MAP(CREW__ERRNO_TEXT)
#undef CREW__ERRNO_TEXT
	default:
		return "unknown crew error";
	}
}

#define CREW__STR2(x) #x
#define CREW__STR(x) CREW__STR2(x)

CREW_API unsigned
crew_version(void)
{
	return CREW_VERSION_HEX;
}

CREW_API const char *
crew_version_string(void)
{
	return CREW__STR(CREW_VERSION_MAJOR) "." CREW__STR(CREW_VERSION_MINOR)
	    "." CREW__STR(CREW_VERSION_PATCH);
}
