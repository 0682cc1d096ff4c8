/* SPDX-License-Identifier: MIT */
/* Small public helpers: batches, configuration, errors, version. */
#include "internal.h"

#include <string.h>

CREW_API int
crew_batch_push(crew_batch *b, crew_task *t)
{
	if (b == NULL || t == NULL || t->fn == NULL)
		return CREW_EINVAL;
	t->next = NULL;
	if (b->len == 0)
		b->head = t;
	else
		b->tail->next = t;
	b->tail = t;
	b->len++;
	return 0;
}

CREW_API int
crew_batch_append(crew_batch *dst, crew_batch *src)
{
	if (dst == NULL || src == NULL)
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
	return 0;
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
