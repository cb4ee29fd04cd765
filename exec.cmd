@rem Windows stand-in for the POSIX `exec` that starts package.json scripts ("exec node bin/serve.mjs"):
@rem cmd.exe finds this file in the package folder, where npm runs scripts, and runs the rest of the line.
@%*
