/* `rectify user create|passwd`: bootstrap accounts without SQL. */
#ifndef RECTIFY_CLI_USER_H
#define RECTIFY_CLI_USER_H

/* argv starts after "user". Returns the process exit status. */
int cli_user(int argc, char **argv);

#endif
