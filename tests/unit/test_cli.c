/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the command-line table (src/cli.c) and "did you mean". */
#include "kta/cli.h"
#include "kta/util.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* Each short letter and long name means one option in every command:
 * the table must not give -o two meanings. */
static void one_meaning(void)
{
    const char *seen[128] = { 0 };
    char label[64];

    for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
        FILE *mem;
        char *buf = NULL;
        size_t len = 0;

        mem = open_memstream(&buf, &len);
        kta_cli_help(mem, c);
        fclose(mem);
        /* "  -o, --offset OFFSET": the letter and name on one line */
        for (char *p = buf; (p = strstr(p, "\n  -")) != NULL; p++) {
            char letter = p[4];
            if (p[5] != ',' && p[5] != ' ')
                continue;
            snprintf(label, sizeof(label), "%.*s", (int)strcspn(p + 3, " \n"), p + 3);
            if (p[5] == ',')
                snprintf(label, sizeof(label), "%.*s", (int)strcspn(p + 7, " \n["), p + 7);
            if (!seen[(unsigned char)letter])
                seen[(unsigned char)letter] = xstrdup(label);
            else if (strcmp(seen[(unsigned char)letter], label) != 0) {
                fprintf(stderr, "-%c is %s and %s\n", letter, seen[(unsigned char)letter], label);
                CHECK(0);
            }
        }
        free(buf);
    }
    CHECK_STR(seen['o'], "--offset");
    CHECK_STR(seen['r'], "--rules");
    for (int i = 0; i < 128; i++)
        free((char *)seen[i]);
}

int main(void)
{
    struct kta_suggest sg;
    FILE *mem;
    char *buf = NULL;
    size_t len = 0;

    CHECK_INT(kta_edit_distance("run", "run"), 0);
    CHECK_INT(kta_edit_distance("rn", "run"), 1);
    CHECK_INT(kta_edit_distance("exit-at-ned", "exit-at-end"), 1);   /* transposition */
    CHECK_INT(kta_edit_distance("topci", "topic"), 1);
    CHECK_INT(kta_edit_distance("", "abc"), 3);
    CHECK_INT(kta_edit_distance("kitten", "sitting"), 3);
    CHECK(kta_similar("rn", "run"));
    CHECK(!kta_similar("run", "run"));
    CHECK(!kta_similar("x", "eval"));
    CHECK(!kta_similar("ab", "cd"));
    CHECK(kta_similar("bootstrap.server", "bootstrap.servers"));
    kta_suggest_init(&sg, "chek");
    kta_suggest_add(&sg, "bench");
    kta_suggest_add(&sg, "check");
    CHECK_STR(sg.best, "check");

    CHECK(kta_cli_find("run") != NULL);
    CHECK(kta_cli_find("rn") == NULL);
    one_meaning();

    /* The man page lists every subcommand and option. */
    mem = open_memstream(&buf, &len);
    kta_cli_man(mem);
    fclose(mem);
    for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
        char want[64];
        snprintf(want, sizeof(want), ".SS kta %s\n", c->name);
        CHECK(strstr(buf, want) != NULL);
    }
    CHECK(strstr(buf, "\\fB\\-\\-exit\\-at\\-end\\fR") != NULL);
    CHECK(strstr(buf, ".SH EXIT STATUS") != NULL);
    CHECK(strstr(buf, ".B SIGHUP") != NULL);
    CHECK(strstr(buf, ".SH ENVIRONMENT") != NULL);
    free(buf);
    return tap_done();
}
