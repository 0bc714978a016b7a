#!/usr/bin/perl
# Doxygen warns about an undocumented function only when its namespace (or, outside any namespace,
# its file) is documented. So that a new header or a new namespace cannot slip through the docs
# check, this fails unless every header given has a `/// \file` block and every namespace the
# headers open has a `///` comment before at least one of its openings. Namespaces named detail
# are excluded from the docs and skipped here. Nesting is followed through the closing comments
# (`}  // namespace name`). Arguments: the headers.
use strict;
use warnings;

my (%documented, %first_seen, @errors);
for my $path (@ARGV) {
  open(my $fh, '<', $path) or die "check-doc-blocks: cannot read $path: $!\n";
  my @lines = <$fh>;
  close($fh);
  unless (grep { m{^\s*///\s*[\\@]file\b} } @lines) {
    push @errors, "$path:1: no `/// \\file` block (Doxygen checks the file's free functions only"
                  . " when the file is documented)";
  }
  my @open;  # the namespaces enclosing the current line
  for my $i (0 .. $#lines) {
    if ($lines[$i] =~ m{^\s*namespace\s+([A-Za-z_]\w*(?:::[A-Za-z_]\w*)*)\s*\{}) {
      my $name = join('::', @open, $1);
      push @open, $1;
      next if $name =~ /(?:^|::)detail(?:::|$)/;
      $first_seen{$name} //= "$path:" . ($i + 1);
      $documented{$name} = 1 if $i > 0 && $lines[$i - 1] =~ m{^\s*///};
    } elsif ($lines[$i] =~ m{^\s*\}\s*//\s*namespace\s+([A-Za-z_][\w:]*)} && @open) {
      # `namespace a::b {` is one entry of @open; its closing comment names it whole
      pop @open;
    }
  }
}
for my $name (sort keys %first_seen) {
  next if $documented{$name};
  push @errors, "$first_seen{$name}: namespace $name has no `///` comment before any of its"
                . " openings (Doxygen checks its members only when it is documented)";
}
print STDERR "error: $_\n" for @errors;
exit(@errors ? 1 : 0);
