#!/usr/bin/perl
# Doxygen input filter for the headers: blanks out explicit instantiation declarations
# (`extern template ...;`, possibly over several lines), which Doxygen would otherwise list as
# undocumented functions of their own. Newlines are kept, so warnings keep their line numbers.
local $/;
my $text = <>;
$text =~ s/^[ \t]*extern[ \t]+template\b[^;]*;/ $& =~ s{[^\n]}{}gr /gme;
print $text;
