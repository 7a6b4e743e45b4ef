# bash completion for mailvault(1). Installed as
# /usr/share/bash-completion/completions/mailvault (loaded on demand by bash-completion).
# Static: commands and options as of mailvault 0.1.0 (`mailvault CMD --help`).
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)) is the idiom; words never contain spaces

_mailvault_opts() {
    # Options of one command ($1: the command, subcommand joined with "_"), without the global ones.
    local common="--config --archive -h --help"
    case $1 in
    sync) echo "$common -a --account -f --folder -n --dry-run --json -q --quiet --index --stats --batch-messages" ;;
    watch) echo "$common -a --account --interval --idle-restart --retry-min --retry-max --batch-messages -q --quiet" ;;
    status) echo "$common --json --bytes" ;;
    folders) echo "$common -a --account --json" ;;
    verify) echo "$common --against-server -a --account --json --limit" ;;
    search) echo "$common --limit --offset --sort --count --json --format --explain --query" ;;
    show) echo "$common --account --folder --uid --uidl --raw --part -o --output --force --sha" ;;
    export) echo "$common --format --out --account --folder --query --exclude-expunged --line-endings --layout" ;;
    restore) echo "$common --to -a --account -f --folder --exclude-expunged --as-of --include-deleted --map --dry-run --verify --connections --update-flags --gmail-labels --gmail-archive-folder --json -q --quiet" ;;
    migrate) echo "$common --from --to --connections --json -q --quiet" ;;
    prune) echo "$common -a --account -f --folder --older-than --flag --larger-than --execute --trash --allow-plain-expunge --json -q --quiet" ;;
    purge) echo "$common --older-than --basis -a --account -f --folder --execute --json" ;;
    hold_add) echo "$common -a --account -f --folder --reason" ;;
    hold_list) echo "$common --all --json" ;;
    report_test | report_flush) echo "$common" ;;
    hold_release) echo "$common --id --reason" ;;
    audit_verify | audit_export | index) echo "$common" ;;
    recompress) echo "$common --level --batch --retrain" ;;
    import) echo "$common -a --account --format --folder --mbox-quoting --batch -q --quiet" ;;
    serve) echo "$common --listen --require-login --insecure-http-on-network --workers --hash-password" ;;
    config_check) echo "--config --resolve-passwords -h --help" ;;
    debug_parse-imap) echo "--file -h --help" ;;
    esac
}

_mailvault() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        COMPREPLY=()
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local global="-v --verbose --log-level --log-file --trace"
    local commands="audit config debug export folders hold import index report prune purge recompress restore migrate search serve show status sync verify watch help --help --version"

    # Options that take a value: complete the value.
    case $prev in
    --config | --archive | --log-file | --file)
        _mailvault_files "$cur"
        return ;;
    --out)
        _mailvault_dirs "$cur"
        return ;;
    -o | --output)
        _mailvault_files "$cur"
        return ;;
    --log-level)
        COMPREPLY=($(compgen -W "trace debug info warn error off" -- "$cur"))
        return ;;
    --format)
        # search: text json files; export: maildir mbox eml
        local i
        for ((i = 1; i < cword; i++)); do
            if [[ ${words[i]} == search ]]; then
                COMPREPLY=($(compgen -W "text json files" -- "$cur"))
                return
            fi
        done
        COMPREPLY=($(compgen -W "maildir mbox eml" -- "$cur"))
        return ;;
    --sort)
        COMPREPLY=($(compgen -W "date relevance" -- "$cur"))
        return ;;
    --basis)
        COMPREPLY=($(compgen -W "internaldate first-seen" -- "$cur"))
        return ;;
    --gmail-labels)
        COMPREPLY=($(compgen -W "folders primary none" -- "$cur"))
        return ;;
    --flag)
        COMPREPLY=($(compgen -W '\\Seen \\Answered \\Flagged \\Deleted \\Draft' -- "$cur"))
        return ;;
    -a | --account | -f | --folder | --to | --from | --uid | --uidl | --part | --sha | --query | \
        --older-than | --larger-than | --trash | --reason | --id | --limit | --offset | --as-of | \
        --map | --connections | --gmail-archive-folder | --batch-messages | --level | --batch | \
        --listen | --workers)
        return ;;
    esac

    # Find the command (and subcommand) among the words before the cursor, skipping global options.
    local cmd="" sub="" i w
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
        --log-level | --log-file | --trace) ((i++)); continue ;;
        -*) continue ;;
        esac
        if [[ -z $cmd ]]; then
            cmd=$w
        elif [[ -z $sub && $cmd =~ ^(audit|config|debug|hold|report)$ ]]; then
            sub=$w
            break
        else
            break
        fi
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global -h --help -V --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi
    case $cmd in
    audit) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "verify export" -- "$cur")); return; } ;;
    config) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "check" -- "$cur")); return; } ;;
    debug) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "parse-imap" -- "$cur")); return; } ;;
    hold) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "add list release" -- "$cur")); return; } ;;
    report) [[ -z $sub ]] && { COMPREPLY=($(compgen -W "test flush" -- "$cur")); return; } ;;
    esac
    local key=$cmd${sub:+_$sub}
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_mailvault_opts "$key") $global" -- "$cur"))
    elif [[ $key == debug_parse-imap ]]; then
        _mailvault_files "$cur"
    fi
}

_mailvault_files() {
    if declare -F _filedir >/dev/null 2>&1; then
        _filedir
    else
        COMPREPLY=($(compgen -f -- "$1"))
    fi
}

_mailvault_dirs() {
    if declare -F _filedir >/dev/null 2>&1; then
        _filedir -d
    else
        COMPREPLY=($(compgen -d -- "$1"))
    fi
}

complete -F _mailvault mailvault
