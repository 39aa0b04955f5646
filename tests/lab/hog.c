// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hog: allocate and touch anonymous memory 1 MiB at a time until the OOM
 * killer kills us. Progress goes to stdout every 16 MiB ("hog: 160 MiB"),
 * so the last line on the console tells how far it got.
 * Optional argument: stop after that many MiB (exit 0) instead; with a
 * second argument "hold", keep the memory and sleep until killed (the victim
 * of a sysrq-f OOM).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1UL << 20)

int main(int argc, char **argv)
{
	unsigned long limit = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	unsigned long mib = 0;
	int hold = argc > 2 && strcmp(argv[2], "hold") == 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("hog: start\n");
	for (;;) {
		char *p = malloc(CHUNK);

		if (!p) {
			printf("hog: malloc failed at %lu MiB\n", mib);
			return 2;
		}
		memset(p, 0x5a, CHUNK);
		mib++;
		if (mib % 16 == 0)
			printf("hog: %lu MiB\n", mib);
		if (limit && mib >= limit) {
			printf("hog: reached limit %lu MiB\n", mib);
			if (!hold)
				return 0;
			for (;;)
				pause();
		}
	}
}
